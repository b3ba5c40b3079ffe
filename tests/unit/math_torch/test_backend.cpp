// The LibTorch backend of --device cuda, run here on LibTorch's CPU device
// against the OpenBLAS backend: same products, same top-k. (tests/gpu runs
// it on cuda.)
#include "lt/base/error.hpp"
#include "lt/math/scorer.hpp"
#include "lt/math_torch/backend.hpp"
#include "gaussian.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

namespace {

using lt::test::gaussian;

template <class T>
void same_products(const lt::math::Backend& torch, const lt::math::Backend& blas) {
    const std::int64_t m = 13, n = 29, d = 17;
    const auto a = gaussian<T>(m * d, 1), b = gaussian<T>(n * d, 2), alpha = gaussian<T>(m * n, 3);
    auto bt = torch.keep(b.data(), n, d), bb = blas.keep(b.data(), n, d);
    std::vector<T> x(m * n), y(m * n);
    torch.multiply_transposed(a.data(), m, *bt, x.data());
    blas.multiply_transposed(a.data(), m, *bb, y.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(y[i]).epsilon(1e-5));
    // rows 5..15 of b, by the first 11 columns of alpha (row stride n), then += rows 16..28
    std::vector<T> p(m * d), q(m * d);
    torch.multiply(alpha.data(), n, m, 5, 11, *bt, p.data(), false);
    blas.multiply(alpha.data(), n, m, 5, 11, *bb, q.data(), false);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(p[i] == doctest::Approx(q[i]).epsilon(1e-5));
    torch.multiply(alpha.data() + 11, n, m, 16, 13, *bt, p.data(), true);
    blas.multiply(alpha.data() + 11, n, m, 16, 13, *bb, q.data(), true);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(p[i] == doctest::Approx(q[i]).epsilon(1e-5));
}

}  // namespace

TEST_CASE("math_torch: products on LibTorch's CPU device equal OpenBLAS's") {
    const lt::math::Backend& torch = lt::math_torch::backend("cpu");
    CHECK(torch.device() == "cpu");
    same_products<float>(torch, lt::math::cpu_backend());
    same_products<double>(torch, lt::math::cpu_backend());
    auto operand = torch.keep(std::vector<float>(4).data(), 2, 2);
    std::vector<double> a(2), out(2);
    CHECK_THROWS_AS(torch.multiply_transposed(a.data(), 1, *operand, out.data()), lt::Error);
}

TEST_CASE("math_torch: the top-k scorer gives the same columns on either backend") {
    const auto weights = gaussian<float>(120 * 16, 4), queries = gaussian<float>(200 * 16, 5);
    lt::math::TopScorer blas(weights.data(), 120, 16, true, nullptr, lt::math::cpu_backend(), lt::math::Screen::never);
    lt::math::TopScorer torch(weights.data(), 120, 16, true, nullptr, lt::math_torch::backend("cpu"));
    CHECK(!torch.screened());  // the screen is the OpenBLAS backend's
    lt::math::QueryBlock block;
    block.assign(queries.data(), 200, 16);
    lt::math::TopRequest request;
    request.k = 4;
    lt::math::TopResult x, y;
    blas.top(block, request, x);
    torch.top(block, request, y);
    CHECK(x.columns == y.columns);
}

TEST_CASE("math_torch: cuda without a GPU is an error that says so") {
    if (lt::math_torch::cuda_available()) return;  // this LibTorch sees a GPU: tests/gpu checks it
    CHECK_THROWS_WITH_AS(lt::math_torch::backend("cuda"), doctest::Contains("no GPU"), lt::Error);
}
