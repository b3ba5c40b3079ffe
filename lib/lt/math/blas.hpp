// The BLAS and LAPACK seam: OpenBLAS's cblas products and one LAPACK
// eigensolver, row-major, with the thread count lt::Compute gives. Every
// dimension is checked against cblas's int range.
#pragma once

#include <cstdint>

namespace lt::math {

// Threads of OpenBLAS and of lt's own parallel loops (parallel_for).
void set_threads(int threads);
int threads();

// C[m x n] = alpha * A[m x k] * B[n x k]^T + beta * C.
void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
             std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1, float beta = 0);
void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, const double* b,
             std::int64_t ldb, double* c, std::int64_t ldc, double alpha = 1, double beta = 0);
// C[m x n] = alpha * A[m x k] * B[k x n] + beta * C.
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
             std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1, float beta = 0);
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, const double* b,
             std::int64_t ldb, double* c, std::int64_t ldc, double alpha = 1, double beta = 0);

// Eigen-decomposition of the symmetric n x n matrix a (row-major; both
// triangles set): values in increasing order, and a overwritten so that row i
// is the unit eigenvector of values[i].
void symmetric_eigen(std::int64_t n, double* a, double* values);

}  // namespace lt::math
