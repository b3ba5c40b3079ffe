// bfloat16 products on CPUs with AVX512-BF16 (vdpbf16ps: 32 multiply-adds
// per instruction, twice the float32 FMA rate), for the screen of
// TopScorer. Operands are packed as pairs of bfloat16 values (two
// consecutive elements of a row in one 32-bit word), rows interleaved by
// micro-tile: queries in groups of kRows rows, weights in panels of
// kColumns rows. Internal to the math wing.
#pragma once

#include <cstdint>

namespace lt::math::bf16 {

inline constexpr int kRows = 12;     // query rows per micro-tile
inline constexpr int kColumns = 32;  // weight rows per micro-tile (two 16-lane registers)

// Whether this CPU runs the kernel.
bool supported();

inline std::int64_t pairs(std::int64_t dim) { return (dim + 1) / 2; }
inline std::int64_t groups(std::int64_t rows) { return (rows + kRows - 1) / kRows; }
inline std::int64_t panels(std::int64_t rows) { return (rows + kColumns - 1) / kColumns; }

// rows[r] * scales[r] (scales may be null: 1), rounded to nearest bfloat16,
// into groups(count) * pairs(dim) * kRows words; padding is zero.
void pack_queries(const float* rows, const double* scales, std::int64_t count, std::int64_t dim,
                  std::uint32_t* out);
// rows into panels(count) * pairs(dim) * kColumns words; padding is zero.
void pack_weights(const float* rows, std::int64_t count, std::int64_t dim, std::uint32_t* out);

// tile[i, j] = sum over the pairs of query row i * weight row j, for the
// query groups [first_group, end_group) and the weight panels
// [first_panel, end_panel); tile is row-major with row stride `stride`.
void multiply(const std::uint32_t* queries, std::int64_t first_group, std::int64_t end_group,
              const std::uint32_t* weights, std::int64_t first_panel, std::int64_t end_panel, std::int64_t pairs,
              float* tile, std::int64_t stride);

// Bound on |bfloat16 product - exact product| relative to sum |q_d| |w_d|
// for a dimension dim: two roundings to 8-bit significands, and float32
// accumulation of at most 2 dim terms.
double relative_error(std::int64_t dim);

}  // namespace lt::math::bf16
