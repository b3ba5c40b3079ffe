// The BLAS/LAPACK seam and the CPU backend against hand computations.
#include "lt/base/error.hpp"
#include "lt/math/backend.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/memory.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

TEST_CASE("math: gemm_nt and gemm_nn multiply row-major matrices") {
    // A = [1 2 3; 4 5 6], B = [1 0 1; 0 1 0]: A B^T = [4 2; 10 5].
    const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 1, 0, 1, 0};
    std::vector<float> c(4, -1);
    lt::math::gemm_nt(2, 2, 3, a.data(), 3, b.data(), 3, c.data(), 2);
    CHECK(c == std::vector<float>{4, 2, 10, 5});
    // beta accumulates: C = 2 A B^T + C.
    lt::math::gemm_nt(2, 2, 3, a.data(), 3, b.data(), 3, c.data(), 2, 2, 1);
    CHECK(c == std::vector<float>{12, 6, 30, 15});
    // A [2 x 3] * B' [3 x 2] with B' = [1 0; 0 1; 1 1]: [4 5; 10 11].
    const std::vector<double> ad = {1, 2, 3, 4, 5, 6}, bd = {1, 0, 0, 1, 1, 1};
    std::vector<double> cd(4);
    lt::math::gemm_nn(2, 2, 3, ad.data(), 3, bd.data(), 2, cd.data(), 2);
    CHECK(cd == std::vector<double>{4, 5, 10, 11});
}

// Products larger than one tile (256 rows x 2048 columns, blas.cpp) are
// multiplied tile by tile: every tile must land where it belongs, with the
// strides given, whatever the thread count. Small integers keep every sum
// exact in float32, so the products equal a plain triple loop.
TEST_CASE("math: products of several tiles, with strides, on 1 and 2 threads") {
    const std::int64_t m = 300, n = 2100, k = 3, lda = 4, ldb = 5, ldc = n + 3;
    std::vector<float> a(m * lda), b_rows(n * ldb), b_columns(k * (n + 1));
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t p = 0; p < lda; ++p) a[i * lda + p] = static_cast<float>((i * 7 + p * 3) % 11) - 5;
    for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t p = 0; p < ldb; ++p) b_rows[j * ldb + p] = static_cast<float>((j * 5 + p) % 9) - 4;
    for (std::int64_t p = 0; p < k; ++p)
        for (std::int64_t j = 0; j < n; ++j) b_columns[p * (n + 1) + j] = b_rows[j * ldb + p];
    const auto expected = [&](std::int64_t i, std::int64_t j) {
        float sum = 0;
        for (std::int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b_rows[j * ldb + p];
        return sum;
    };
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        lt::math::set_threads(threads);
        std::vector<float> nt(m * ldc, 7), nn(m * ldc, 7);
        lt::math::gemm_nt(m, n, k, a.data(), lda, b_rows.data(), ldb, nt.data(), ldc, 2, 1);
        lt::math::gemm_nn(m, n, k, a.data(), lda, b_columns.data(), n + 1, nn.data(), ldc);
        std::int64_t wrong_nt = 0, wrong_nn = 0, padding_touched = 0;
        for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t j = 0; j < n; ++j) {
                wrong_nt += nt[i * ldc + j] != 2 * expected(i, j) + 7;
                wrong_nn += nn[i * ldc + j] != expected(i, j);
            }
            for (std::int64_t j = n; j < ldc; ++j) padding_touched += nt[i * ldc + j] != 7 || nn[i * ldc + j] != 7;
        }
        CHECK(wrong_nt == 0);
        CHECK(wrong_nn == 0);
        CHECK(padding_touched == 0);
    }
    lt::math::set_threads(1);
}

TEST_CASE("math: symmetric_eigen of a 2 x 2 and a diagonal matrix") {
    // [2 1; 1 2]: eigenvalues 1 and 3, eigenvectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2.
    std::vector<double> a = {2, 1, 1, 2}, values(2);
    lt::math::symmetric_eigen(2, a.data(), values.data());
    CHECK(values[0] == doctest::Approx(1));
    CHECK(values[1] == doctest::Approx(3));
    const double h = 1 / std::sqrt(2.0);
    CHECK(std::abs(a[0]) == doctest::Approx(h));
    CHECK(a[0] * a[1] == doctest::Approx(-0.5));  // (1, -1) up to sign
    CHECK(a[2] * a[3] == doctest::Approx(0.5));   // (1, 1) up to sign
    std::vector<double> d = {5, 0, 0, 0, 1, 0, 0, 0, 3}, dv(3);
    lt::math::symmetric_eigen(3, d.data(), dv.data());
    CHECK(dv == std::vector<double>{1, 3, 5});
    CHECK(std::abs(d[3 * 2 + 0]) == doctest::Approx(1));  // the largest is e_0
}

TEST_CASE("math: the CPU backend multiplies by kept operands, and by a prefix of their rows") {
    const lt::math::Backend& cpu = lt::math::cpu_backend();
    CHECK(cpu.device() == "cpu");
    const std::vector<float> rows = {1, 0, 0, 1, 1, 1};  // 3 rows of dimension 2
    auto operand = cpu.keep(rows.data(), 3, 2);
    const std::vector<float> a = {2, 3};
    std::vector<float> scores(3);
    cpu.multiply_transposed(a.data(), 1, *operand, scores.data());
    CHECK(scores == std::vector<float>{2, 3, 5});
    // weights (0.5, 0.5) over the first two rows only: (0.5, 0.5); then
    // += 2 x the last row: (2.5, 2.5).
    const std::vector<float> alpha = {0.5f, 0.5f, 2};
    std::vector<float> combined(2);
    cpu.multiply(alpha.data(), 3, 1, 0, 2, *operand, combined.data(), false);
    CHECK(combined == std::vector<float>{0.5f, 0.5f});
    cpu.multiply(alpha.data() + 2, 3, 1, 2, 1, *operand, combined.data(), true);
    CHECK(combined == std::vector<float>{2.5f, 2.5f});
    const std::vector<double> a_double = {2, 3};
    std::vector<double> s_double(3);
    CHECK_THROWS_AS(cpu.multiply_transposed(a_double.data(), 1, *operand, s_double.data()), lt::Error);
}

TEST_CASE("math: use() resolves the device once; cuda without the backend is a clear error") {
    lt::Compute compute;
    compute.threads = 2;
    compute.device = "auto";
    CHECK(lt::math::use(compute).device() == "cpu");  // no CUDA backend linked into this test
    CHECK(lt::math::threads() == 2);
    compute.device = "cuda";
    CHECK_THROWS_WITH_AS(lt::math::use(compute), doctest::Contains("built without the CUDA backend"), lt::Error);
    compute.device = "tpu";
    CHECK_THROWS_AS(lt::math::use(compute), lt::UsageError);
    compute.device = "cpu";
    compute.threads = 1;
    lt::math::use(compute);
}

TEST_CASE("math: a failed allocation is lt's own error with the hint") {
    std::vector<double> too_big;
    CHECK_THROWS_WITH_AS(lt::math::allocate(too_big, std::size_t{1} << 62, "a test buffer", "use less"),
                         doctest::Contains("cannot allocate"), lt::Error);
    try {
        lt::math::allocate(too_big, std::size_t{1} << 62, "a test buffer", "use less");
    } catch (const lt::Error& error) {
        CHECK(error.hint() == "use less");
    }
}
