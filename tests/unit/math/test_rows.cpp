// Row kernels against closed forms: norms, softmax, exp, exact dot products.
#include "lt/base/error.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/rows.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

TEST_CASE("math: normalize_rows makes unit rows and leaves a zero row zero") {
    std::vector<float> rows = {3, 4, 0, 0, 0, 0, 0, -2, 0};
    lt::math::normalize_rows(rows.data(), 3, 3);
    CHECK(rows[0] == doctest::Approx(0.6));
    CHECK(rows[1] == doctest::Approx(0.8));
    for (int i = 3; i < 6; ++i) CHECK(rows[i] == 0);
    CHECK(rows[7] == doctest::Approx(-1));
    std::vector<double> inverse(1);
    const std::vector<float> zero = {0, 0};
    lt::math::inverse_norms(zero.data(), 1, 2, inverse.data());
    CHECK(inverse[0] == doctest::Approx(1e12));  // 1 / max(0, 1e-12)
    std::vector<double> d = {1, 1, 1, 1};
    lt::math::normalize_rows(d.data(), 1, 4);
    CHECK(d[2] == doctest::Approx(0.5));
}

TEST_CASE("math: softmax of known values, with its limits") {
    // tau = 1, s = (0, ln 2, ln 3): (1, 2, 3) / 6; a shift of s changes nothing.
    const std::vector<float> s = {0, std::log(2.0f), std::log(3.0f)};
    std::vector<float> p(3);
    lt::math::softmax(s.data(), 3, 1.0, p.data());
    CHECK(p[0] == doctest::Approx(1.0 / 6).epsilon(1e-6));
    CHECK(p[1] == doctest::Approx(2.0 / 6).epsilon(1e-6));
    CHECK(p[2] == doctest::Approx(3.0 / 6).epsilon(1e-6));
    const std::vector<float> shifted = {100, 100 + std::log(2.0f), 100 + std::log(3.0f)};
    std::vector<float> q(3);
    lt::math::softmax(shifted.data(), 3, 1.0, q.data());
    CHECK(q[2] == doctest::Approx(0.5).epsilon(1e-5));
    // tau = 0: uniform; tau = 2 on (0, ln 2): (1, 4) / 5.
    lt::math::softmax(s.data(), 3, 0.0, p.data());
    for (float v : p) CHECK(v == doctest::Approx(1.0 / 3));
    lt::math::softmax(s.data(), 2, 2.0, p.data());
    CHECK(p[0] == doctest::Approx(0.2).epsilon(1e-6));
    // double, a huge tau: one-hot; tied maxima share.
    const std::vector<double> t = {0.5, 0.25, 0.5};
    std::vector<double> r(3);
    lt::math::softmax(t.data(), 3, 1e300, r.data());
    CHECK(r == std::vector<double>{0.5, 0, 0.5});
    float maximum = 0;
    const double z = lt::math::softmax_normaliser(s.data(), 3, 1.0, &maximum);
    CHECK(maximum == doctest::Approx(std::log(3.0)));
    CHECK(z == doctest::Approx(6.0 / 3).epsilon(1e-6));  // (1 + 2 + 3) / 3
}

TEST_CASE("math: exp_nonpositive is within a few ulp of exp, and 0 below float's range") {
    double worst = 0;
    for (double x = -87; x <= 0; x += 0.0137) {
        const double exact = std::exp(static_cast<double>(static_cast<float>(x)));
        worst = std::max(worst, std::abs(lt::math::exp_nonpositive(static_cast<float>(x)) - exact) / exact);
    }
    CHECK(worst < 4e-7);
    CHECK(lt::math::exp_nonpositive(0) == 1.0f);
    CHECK(lt::math::exp_nonpositive(-88) == 0.0f);
    CHECK(lt::math::exp_nonpositive(-1e30f) == 0.0f);
}

TEST_CASE("math: dot sums exact products in double") {
    // In float, 1e8 + 1 - 1e8 is 0; every product is exact in double.
    const std::vector<float> a = {1e8f, 1, -1e8f}, b = {1, 1, 1};
    CHECK(lt::math::dot(a.data(), b.data(), 3) == 1.0);
    std::vector<float> y = {1, 2};
    lt::math::add(b.data(), 2, y.data());
    CHECK(y == std::vector<float>{2, 3});
}

TEST_CASE("math: parallel_for covers every index once and passes exceptions on") {
    lt::math::set_threads(2);
    std::vector<std::atomic<int>> seen(1000);
    lt::math::parallel_for(1000, 10, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) ++seen[static_cast<std::size_t>(i)];
    });
    for (auto& s : seen) CHECK(s == 1);
    CHECK_THROWS_WITH_AS(lt::math::parallel_for(1000, 10,
                                                [](std::int64_t begin, std::int64_t) {
                                                    if (begin > 0) throw lt::Error("from a thread");
                                                }),
                         "from a thread", lt::Error);
    lt::math::set_threads(1);
}

TEST_CASE("math: sort_decreasing orders floats of any sign, as std::sort does") {
    std::vector<float> values = {0.5f, -2, 3e-39f, 1e30f, -0.0f, 7, -1e-30f, 7, 0, -3e38f, 2.5f};
    std::vector<float> expected = values;
    std::sort(expected.begin(), expected.end(), std::greater<float>());
    std::vector<std::uint32_t> scratch;
    lt::math::sort_decreasing(values.data(), static_cast<std::int64_t>(values.size()), scratch);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(values[i] == expected[i]);
    std::vector<float> many(5000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = std::sin(static_cast<float>(i) * 0.37f) * 10;
    std::vector<float> sorted = many;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    lt::math::sort_decreasing(many.data(), 5000, scratch);
    CHECK(many == sorted);
}
