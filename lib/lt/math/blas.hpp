// The BLAS and LAPACK seam: OpenBLAS's cblas products and one LAPACK
// eigensolver, row-major, with the thread count lt::Compute gives. Every
// dimension is checked against cblas's int range.
#pragma once

#include <cstdint>
#include <type_traits>

namespace lt::math {

// Threads of OpenBLAS and of lt's own parallel loops (parallel_for).
void set_threads(int threads);
int threads();

// The type of the factors alpha and beta, not deduced from them (1 and 0
// are ints): T comes from the matrices.
template <class T>
using Factor = typename std::enable_if<true, T>::type;

// C[m x n] = alpha * A[m x k] * B[n x k]^T + beta * C, for T float or double.
template <class T>
void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
             std::int64_t ldb, T* c, std::int64_t ldc, Factor<T> alpha = 1, Factor<T> beta = 0);
// C[m x n] = alpha * A[m x k] * B[k x n] + beta * C.
template <class T>
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
             std::int64_t ldb, T* c, std::int64_t ldc, Factor<T> alpha = 1, Factor<T> beta = 0);

// Eigen-decomposition of the symmetric n x n matrix a (row-major; both
// triangles set): values in increasing order, and a overwritten so that row i
// is the unit eigenvector of values[i].
void symmetric_eigen(std::int64_t n, double* a, double* values);

}  // namespace lt::math
