#include "lt/math/rows.hpp"

#include "lt/math/blas.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>

// Hot loops get AVX-512 and AVX2 clones, chosen at load time.
#define LT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace lt::math {

void parallel_for(std::int64_t count, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& body) {
    if (count <= 0) return;
    const std::int64_t chunks = std::min<std::int64_t>(threads(), std::max<std::int64_t>(1, count / std::max<std::int64_t>(1, grain)));
    if (chunks <= 1 || omp_in_parallel()) {
        body(0, count);
        return;
    }
    // An exception must not leave an OpenMP region: the first one is
    // rethrown after it.
    std::exception_ptr failure;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
        const std::int64_t begin = count * chunk / chunks, end = count * (chunk + 1) / chunks;
        try {
            body(begin, end);
        } catch (...) {
#pragma omp critical(lt_parallel_for_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
}

namespace {

// Sum of a[i] b[i] in double over 32 independent partial sums, so that the
// additions do not wait for each other.
LT_CLONES double dot_in_double(const float* a, const float* b, std::int64_t n) {
    constexpr int kLanes = 32;
    double partial[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) partial[l] += double(a[i + l]) * double(b[i + l]);
    double sum = 0;
    for (; i < n; ++i) sum += double(a[i]) * double(b[i]);
    for (int l = 0; l < kLanes; ++l) sum += partial[l];
    return sum;
}

LT_CLONES double dot_in_double(const double* a, const float* b, std::int64_t n) {
    constexpr int kLanes = 32;
    double partial[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) partial[l] += a[i + l] * double(b[i + l]);
    double sum = 0;
    for (; i < n; ++i) sum += a[i] * double(b[i]);
    for (int l = 0; l < kLanes; ++l) sum += partial[l];
    return sum;
}

double squared_norm(const float* row, std::int64_t dim) { return dot_in_double(row, row, dim); }

LT_CLONES double squared_norm(const double* row, std::int64_t dim) {
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t d = 0; d < dim; ++d) sum += row[d] * row[d];
    return sum;
}

double inverse(double squared) { return 1.0 / std::max(std::sqrt(squared), 1e-12); }

LT_CLONES void scale(const float* row, double by, std::int64_t dim, float* out) {
    const float factor = static_cast<float>(by);
#pragma omp simd
    for (std::int64_t d = 0; d < dim; ++d) out[d] = row[d] * factor;
}

template <class T>
void normalize(T* rows, std::int64_t count, std::int64_t dim) {
    parallel_for(count, 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            T* row = rows + r * dim;
            const double by = inverse(squared_norm(row, dim));
            if constexpr (std::is_same_v<T, float>) {
                scale(row, by, dim, row);
            } else {
                for (std::int64_t d = 0; d < dim; ++d) row[d] *= by;
            }
        }
    });
}

}  // namespace

void inverse_norms(const float* rows, std::int64_t count, std::int64_t dim, double* out) {
    parallel_for(count, 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) out[r] = inverse(squared_norm(rows + r * dim, dim));
    });
}

void normalize_rows(float* rows, std::int64_t count, std::int64_t dim) { normalize(rows, count, dim); }
void normalize_rows(double* rows, std::int64_t count, std::int64_t dim) { normalize(rows, count, dim); }

void scale_rows(const float* rows, const double* scales, std::int64_t count, std::int64_t dim, float* out) {
    parallel_for(count, 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) scale(rows + r * dim, scales[r], dim, out + r * dim);
    });
}

double dot(const float* a, const float* b, std::int64_t n) { return dot_in_double(a, b, n); }
double dot(const double* a, const float* b, std::int64_t n) { return dot_in_double(a, b, n); }

LT_CLONES void add(const float* x, std::int64_t n, float* y) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

LT_CLONES void add(const double* x, std::int64_t n, double* y) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

namespace {

LT_CLONES float maximum_of(const float* s, std::int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (std::int64_t j = 0; j < n; ++j) m = std::max(m, s[j]);
    return m;
}

// out[j] = e^(tau (s[j] - m)); returns their sum in double.
LT_CLONES double exponentials(const float* s, std::int64_t n, float tau, float m, float* out) {
    double z = 0;
#pragma omp simd reduction(+ : z)
    for (std::int64_t j = 0; j < n; ++j) {
        out[j] = exp_nonpositive(tau * (s[j] - m));
        z += out[j];
    }
    return z;
}

LT_CLONES double sum_of_exponentials(const float* s, std::int64_t n, float tau, float m) {
    double z = 0;
#pragma omp simd reduction(+ : z)
    for (std::int64_t j = 0; j < n; ++j) z += exp_nonpositive(tau * (s[j] - m));
    return z;
}

LT_CLONES void multiply(float* x, std::int64_t n, float by) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) x[j] *= by;
}

}  // namespace

void softmax(const float* s, std::int64_t n, double tau, float* out) {
    if (n == 0) return;
    const float m = maximum_of(s, n);
    const double z = exponentials(s, n, static_cast<float>(tau), m, out);
    multiply(out, n, static_cast<float>(1.0 / z));
}

void softmax(const double* s, std::int64_t n, double tau, double* out) {
    if (n == 0) return;
    double m = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < n; ++j) m = std::max(m, s[j]);
    double z = 0;
    for (std::int64_t j = 0; j < n; ++j) {
        out[j] = std::exp(tau * (s[j] - m));  // <= 1: s[j] - m <= 0, and 0 for the maxima
        z += out[j];
    }
    const double inverse_z = 1.0 / z;
    for (std::int64_t j = 0; j < n; ++j) out[j] *= inverse_z;
}

void softmax_weights(const float* s, std::int64_t n, double tau, float* out) {
    if (n > 0) exponentials(s, n, static_cast<float>(tau), maximum_of(s, n), out);
}

LT_CLONES std::int64_t first_at_least(const float* s, std::int64_t from, std::int64_t count, float threshold) {
    constexpr int kStep = 16;
    std::int64_t j = from;
    for (; j + kStep <= count; j += kStep) {
        int any = 0;
        for (int l = 0; l < kStep; ++l) any |= s[j + l] >= threshold;
        if (any) break;
    }
    for (; j < count; ++j)
        if (s[j] >= threshold) return j;
    return count;
}

void sort_decreasing(float* values, std::int64_t n, std::vector<std::uint32_t>& scratch) {
    if (n < 2) return;
    // Keys whose unsigned order is the floats' decreasing order: a float's
    // bits order as its value once negative ones are flipped whole and the
    // sign of positive ones is set; then every bit is inverted.
    scratch.resize(static_cast<std::size_t>(2 * n));
    std::uint32_t* keys = scratch.data();
    std::uint32_t* other = keys + n;
    for (std::int64_t i = 0; i < n; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, values + i, 4);
        keys[i] = ~((bits & 0x80000000u) ? ~bits : (bits | 0x80000000u));
    }
    constexpr int kBits = 11, kBuckets = 1 << kBits;
    for (int shift = 0; shift < 32; shift += kBits) {
        std::int64_t count[kBuckets + 1] = {};
        for (std::int64_t i = 0; i < n; ++i) ++count[((keys[i] >> shift) & (kBuckets - 1)) + 1];
        for (int b = 0; b < kBuckets; ++b) count[b + 1] += count[b];
        for (std::int64_t i = 0; i < n; ++i) other[count[(keys[i] >> shift) & (kBuckets - 1)]++] = keys[i];
        std::swap(keys, other);
    }
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint32_t key = ~keys[i];
        const std::uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
        std::memcpy(values + i, &bits, 4);
    }
}

double softmax_normaliser(const float* s, std::int64_t n, double tau, float* maximum) {
    *maximum = n ? maximum_of(s, n) : 0.0f;
    return n ? sum_of_exponentials(s, n, static_cast<float>(tau), *maximum) : 0.0;
}

}  // namespace lt::math
