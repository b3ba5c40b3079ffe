#include "lt/math/blas.hpp"

#include "lt/base/error.hpp"

#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

// Declared here too: only OpenBLAS's cblas.h has them, a netlib one does not.
extern "C" void openblas_set_num_threads(int threads);
// LAPACK's Fortran interface (OpenBLAS ships LAPACK without LAPACKE).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info);

namespace lt::math {

namespace {

int thread_count = 1;

int as_int(std::int64_t value, const char* what) {
    if (value < 0 || value > INT_MAX)
        throw Error(fmt::format("internal error: matrix {} {} is beyond the BLAS range", what, value));
    return static_cast<int>(value);
}

template <class T>
void gemm(CBLAS_TRANSPOSE transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, T alpha, T beta) {
    if (m == 0 || n == 0) return;
    const auto stride = [](std::int64_t ld) { return as_int(std::max<std::int64_t>(ld, 1), "stride"); };
    if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b, as_int(m, "rows"), as_int(n, "columns"),
                    as_int(k, "depth"), alpha, a, stride(lda), b, stride(ldb), beta, c, stride(ldc));
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose_b, as_int(m, "rows"), as_int(n, "columns"),
                    as_int(k, "depth"), alpha, a, stride(lda), b, stride(ldb), beta, c, stride(ldc));
}

}  // namespace

void set_threads(int threads) {
    thread_count = std::max(1, threads);
    openblas_set_num_threads(thread_count);
    omp_set_num_threads(thread_count);
}

int threads() { return thread_count; }

template <class T>
void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
             std::int64_t ldb, T* c, std::int64_t ldc, Factor<T> alpha, Factor<T> beta) {
    gemm(CblasTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

template <class T>
void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
             std::int64_t ldb, T* c, std::int64_t ldc, Factor<T> alpha, Factor<T> beta) {
    gemm(CblasNoTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

template void gemm_nt<float>(std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,
                             std::int64_t, float*, std::int64_t, float, float);
template void gemm_nt<double>(std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t, const double*,
                              std::int64_t, double*, std::int64_t, double, double);
template void gemm_nn<float>(std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,
                             std::int64_t, float*, std::int64_t, float, float);
template void gemm_nn<double>(std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t, const double*,
                              std::int64_t, double*, std::int64_t, double, double);

void symmetric_eigen(std::int64_t n, double* a, double* values) {
    if (n == 0) return;
    const int order = as_int(n, "order");
    int info = 0, lwork = -1, liwork = -1, iwork_size = 0;
    double work_size = 0;
    // Row-major a is column-major a^T = a: LAPACK's column j is our row j.
    dsyevd_("V", "U", &order, a, &order, values, &work_size, &lwork, &iwork_size, &liwork, &info);
    if (info != 0) throw Error(fmt::format("internal error: LAPACK dsyevd workspace query failed ({})", info));
    lwork = static_cast<int>(work_size);
    liwork = iwork_size;
    std::vector<double> work(static_cast<std::size_t>(std::max(1, lwork)));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(1, liwork)));
    dsyevd_("V", "U", &order, a, &order, values, work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0) throw Error(fmt::format("the eigen-decomposition did not converge (LAPACK dsyevd: {})", info));
}

}  // namespace lt::math
