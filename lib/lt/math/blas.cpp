#include "lt/math/blas.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"

#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/resource.h>

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

// OpenBLAS's threads split a product differently for each thread count, so
// the sums of an output row rounded differently between --threads 1 and 2
// (1 ulp). A product is cut instead into tiles of kTileRows x kTileColumns,
// each multiplied by one thread (OpenBLAS runs single-threaded inside an
// OpenMP region, and when told one thread): an output's sums are those of
// its tile, the same for any thread count. Columns are cut too so that a
// product of few rows and many classes still uses every thread.
constexpr std::int64_t kTileRows = 256;
constexpr std::int64_t kTileColumns = 2048;

// OpenBLAS single-threaded for this scope (it follows the calling thread's
// OpenMP thread count; the count is restored after).
class OneBlasThread {
public:
    OneBlasThread() : before_(omp_get_max_threads()) { omp_set_num_threads(1); }
    ~OneBlasThread() { omp_set_num_threads(before_); }
    OneBlasThread(const OneBlasThread&) = delete;
    OneBlasThread& operator=(const OneBlasThread&) = delete;

private:
    int before_;
};

template <class T>
void gemm(CBLAS_TRANSPOSE transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, T alpha, T beta) {
    if (m == 0 || n == 0) return;
    const auto stride = [](std::int64_t ld) { return as_int(std::max<std::int64_t>(ld, 1), "stride"); };
    as_int(n, "columns");
    const int depth = as_int(k, "depth");
    const int a_stride = stride(lda), b_stride = stride(ldb), c_stride = stride(ldc);
    as_int(m, "rows");
    const std::int64_t row_tiles = (m + kTileRows - 1) / kTileRows;
    const std::int64_t column_tiles = (n + kTileColumns - 1) / kTileColumns;
    const std::int64_t tiles = row_tiles * column_tiles;
    const auto multiply_tile = [&](std::int64_t tile) {
        const std::int64_t row = (tile / column_tiles) * kTileRows, column = (tile % column_tiles) * kTileColumns;
        const int rows = static_cast<int>(std::min(kTileRows, m - row));
        const int columns = static_cast<int>(std::min(kTileColumns, n - column));
        // Column j of op(B) is row j of b when transposed, column j otherwise.
        const T* b_tile = b + (transpose_b == CblasTrans ? column * ldb : column);
        if constexpr (std::is_same_v<T, float>)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b, rows, columns, depth, alpha, a + row * lda,
                        a_stride, b_tile, b_stride, beta, c + row * ldc + column, c_stride);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose_b, rows, columns, depth, alpha, a + row * lda,
                        a_stride, b_tile, b_stride, beta, c + row * ldc + column, c_stride);
    };
    const int workers = static_cast<int>(std::min<std::int64_t>(thread_count, tiles));
    if (workers > 1 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(workers) schedule(static)
        for (std::int64_t tile = 0; tile < tiles; ++tile) multiply_tile(tile);
    } else {
        const OneBlasThread one;
        for (std::int64_t tile = 0; tile < tiles; ++tile) multiply_tile(tile);
    }
}

void apply_threads() {
    openblas_set_num_threads(thread_count);
    omp_set_num_threads(thread_count);
}

// OpenBLAS gives each thread a work buffer of 128 MiB (the first one when it
// loads, the others in the first product that uses them) and keeps them;
// when an address-space limit (ulimit -v, prlimit --as) cannot hold one, it
// retries forever instead of failing. So under such a limit the other
// threads' buffers are taken here, once, after checking they fit, with fewer
// threads when they do not.
void reserve_blas_buffers() {
    static bool reserved = false;
    rlimit limit{};
    if (reserved || thread_count < 2 || getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    constexpr std::size_t kBuffer = std::size_t{129} << 20;  // OpenBLAS's 128 MiB and its alignment
    int fit = thread_count;
    for (; fit > 1; --fit) {
        const std::size_t bytes = static_cast<std::size_t>(fit - 1) * kBuffer;
        void* room = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (room != MAP_FAILED) {
            munmap(room, bytes);
            break;
        }
    }
    if (fit < thread_count) {
        log::warn("the address-space limit of {} MiB (ulimit -v) holds OpenBLAS's work buffers for {} thread{}, "
                  "not {}: using {}",
                  static_cast<long long>(limit.rlim_cur >> 20), fit, fit == 1 ? "" : "s", thread_count, fit);
        thread_count = fit;
        apply_threads();
    }
    // A product of a tile for every thread takes their buffers now.
    constexpr int kSide = 256;
    const std::int64_t rows = kTileRows * thread_count;
    std::vector<float> a(static_cast<std::size_t>(rows * kSide), 0.0f), c(a.size());
    gemm(CblasTrans, rows, kSide, kSide, a.data(), kSide, a.data(), kSide, c.data(), kSide, 1.0f, 0.0f);
    reserved = true;
}

}  // namespace

void set_threads(int threads) {
    thread_count = std::max(1, threads);
    apply_threads();
    reserve_blas_buffers();
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
