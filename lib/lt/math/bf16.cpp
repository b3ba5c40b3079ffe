#include "lt/math/bf16.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>
#define LT_BF16_KERNEL 1
#endif

namespace lt::math::bf16 {

namespace {

// Rounds n floats (times scale) to nearest-even bfloat16, as vcvtneps2bf16
// does (inputs are finite); a loop that vectorises.
__attribute__((target_clones("avx512f", "avx2", "default"))) void round_to_bf16(const float* in, std::int64_t n,
                                                                               float scale, std::uint16_t* out) {
#pragma omp simd
    for (std::int64_t d = 0; d < n; ++d) {
        const float value = in[d] * scale;
        std::uint32_t bits;
        std::memcpy(&bits, &value, 4);
        out[d] = static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
}

// Each row rounded to bfloat16 in place of a row of pairs (two consecutive
// bfloat16 values in one little-endian word: element 2k low, 2k + 1 high),
// then the words interleaved `width` rows at a time.
void pack(const float* rows, const double* scales, std::int64_t count, std::int64_t dim, int width,
          std::uint32_t* out) {
    const std::int64_t p = pairs(dim), blocks = (count + width - 1) / width;
    std::memset(out, 0, static_cast<std::size_t>(blocks * p * width) * sizeof(std::uint32_t));
    std::vector<std::uint32_t> words(static_cast<std::size_t>(p));
    for (std::int64_t r = 0; r < count; ++r) {
        words.back() = 0;  // the odd dimension's missing element
        round_to_bf16(rows + r * dim, dim, scales ? static_cast<float>(scales[r]) : 1.0f,
                      reinterpret_cast<std::uint16_t*>(words.data()));
        std::uint32_t* block = out + (r / width) * p * width + r % width;
        for (std::int64_t k = 0; k < p; ++k) block[k * width] = words[static_cast<std::size_t>(k)];
    }
}

// Pairs per cache block: a kColumns-row weight micro-panel of 16 KiB stays in L1.
constexpr std::int64_t kPairBlock = 128;

#ifdef LT_BF16_KERNEL
// A kRows x kColumns micro-tile over `count` pairs, added to (or, first,
// stored in) c.
__attribute__((target("avx512f,avx512bf16"))) void micro_tile(std::int64_t count, const std::uint32_t* a,
                                                                const std::uint32_t* b, float* c,
                                                                std::int64_t stride, bool first) {
    __m512 sum[kRows][2];
    for (int r = 0; r < kRows; ++r) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
    for (std::int64_t k = 0; k < count; ++k) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + k * kColumns);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + k * kColumns + 16);
#pragma GCC unroll 12
        for (int r = 0; r < kRows; ++r) {
            const __m512bh pair = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[k * kRows + r]));
            sum[r][0] = _mm512_dpbf16_ps(sum[r][0], b0, pair);
            sum[r][1] = _mm512_dpbf16_ps(sum[r][1], b1, pair);
        }
    }
    for (int r = 0; r < kRows; ++r) {
        float* row = c + r * stride;
        if (first) {
            _mm512_storeu_ps(row, sum[r][0]);
            _mm512_storeu_ps(row + 16, sum[r][1]);
        } else {
            _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), sum[r][0]));
            _mm512_storeu_ps(row + 16, _mm512_add_ps(_mm512_loadu_ps(row + 16), sum[r][1]));
        }
    }
}
#endif

}  // namespace

bool supported() {
#ifdef LT_BF16_KERNEL
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    return yes;
#else
    return false;
#endif
}

void pack_queries(const float* rows, const double* scales, std::int64_t count, std::int64_t dim,
                  std::uint32_t* out) {
    pack(rows, scales, count, dim, kRows, out);
}

void pack_weights(const float* rows, std::int64_t count, std::int64_t dim, std::uint32_t* out) {
    pack(rows, nullptr, count, dim, kColumns, out);
}

void multiply(const std::uint32_t* queries, std::int64_t first_group, std::int64_t end_group,
              const std::uint32_t* weights, std::int64_t first_panel, std::int64_t end_panel, std::int64_t pairs,
              float* tile, std::int64_t stride) {
#ifdef LT_BF16_KERNEL
    for (std::int64_t k0 = 0; k0 < pairs; k0 += kPairBlock) {
        const std::int64_t count = std::min(kPairBlock, pairs - k0);
        for (std::int64_t p = first_panel; p < end_panel; ++p) {
            const std::uint32_t* b = weights + (p * pairs + k0) * kColumns;
            for (std::int64_t g = first_group; g < end_group; ++g)
                micro_tile(count, queries + (g * pairs + k0) * kRows, b,
                           tile + (g - first_group) * kRows * stride + (p - first_panel) * kColumns, stride, k0 == 0);
        }
    }
#else
    (void)queries, (void)first_group, (void)end_group, (void)weights, (void)first_panel, (void)end_panel, (void)pairs,
        (void)tile, (void)stride;
    std::abort();  // callers check supported()
#endif
}

double relative_error(std::int64_t dim) {
    const double u8 = 1.0 / 256, u24 = 1.0 / 16777216;
    const double terms = 2.0 * static_cast<double>(dim) + 2;
    const double accumulation = terms * u24 / (1 - terms * u24);
    return (2 * u8 + u8 * u8) * (1 + 1e-6) + accumulation * (1 + u8) * (1 + u8);
}

}  // namespace lt::math::bf16
