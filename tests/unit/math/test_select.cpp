// Top-k selection: the order, ties to the lower column, candidates within an
// error bound settled by exact values, streaming in chunks.
#include "lt/math/select.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace {

std::vector<std::int64_t> columns_of(const std::vector<lt::math::Ranked>& best) {
    std::vector<std::int64_t> columns;
    for (const auto& b : best) columns.push_back(b.column);
    return columns;
}

}  // namespace

TEST_CASE("math: exact top-k, ties to the lower column, in chunks or not") {
    const std::vector<float> s = {1, 5, 3, 5, 2, 5, 0};
    lt::math::TopSelector selector;
    std::vector<lt::math::Ranked> best;
    auto exact = [&](std::int64_t j) { return double(s[static_cast<std::size_t>(j)]); };
    selector.reset(3, 0);
    selector.scan(s.data(), 7, 0);
    selector.finish(best, exact, 7);
    CHECK(columns_of(best) == std::vector<std::int64_t>{1, 3, 5});  // three 5s, lowest columns first
    selector.reset(4, 0);
    selector.scan(s.data(), 3, 0);
    selector.scan(s.data() + 3, 4, 3);
    selector.finish(best, exact, 7);
    CHECK(columns_of(best) == std::vector<std::int64_t>{1, 3, 5, 2});
    CHECK(best[3].value == 3);
    // k beyond the columns: all of them.
    selector.reset(10, 0);
    selector.scan(s.data(), 7, 0);
    selector.finish(best, exact, 7);
    CHECK(best.size() == 7);
    CHECK(best.back().column == 6);
}

TEST_CASE("math: a long row of equal scores keeps the first columns") {
    std::vector<float> s(10000, 0.0f);
    lt::math::TopSelector selector;
    std::vector<lt::math::Ranked> best;
    selector.reset(5, 0);
    selector.scan(s.data(), 10000, 0);
    CHECK(!selector.exhaustive());
    selector.finish(best, [](std::int64_t) { return 0.0; }, 10000);
    CHECK(columns_of(best) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("math: approximate scores keep every column within twice the error, settled exactly") {
    // Approximations (error 0.1) rank column 0 first; the exact values put
    // column 2 first and column 0 last.
    const std::vector<float> approx = {1.0f, 0.95f, 0.92f, 0.5f};
    const std::vector<double> exact = {0.91, 0.93, 0.97, 0.55};
    lt::math::TopSelector selector;
    std::vector<lt::math::Ranked> best;
    selector.reset(1, 0.1f);
    selector.scan(approx.data(), 4, 0);
    selector.finish(best, [&](std::int64_t j) { return exact[static_cast<std::size_t>(j)]; }, 4);
    REQUIRE(best.size() == 1);
    CHECK(best[0].column == 2);
    CHECK(best[0].value == 0.97);
    // Column 3 is 0.5 below the best approximation: never a candidate, even if
    // its "exact" value said otherwise.
    const std::vector<double> liar = {0.91, 0.93, 0.97, 5.0};
    selector.reset(1, 0.1f);
    selector.scan(approx.data(), 4, 0);
    selector.finish(best, [&](std::int64_t j) { return liar[static_cast<std::size_t>(j)]; }, 4);
    CHECK(best[0].column == 2);
}

TEST_CASE("math: too many candidates within the error settle every column") {
    std::vector<float> s(20000, 0.0f);
    s[12345] = 1e-3f;
    lt::math::TopSelector selector;
    std::vector<lt::math::Ranked> best;
    selector.reset(1, 0.01f);  // every column is within the error of every other
    selector.scan(s.data(), 20000, 0);
    CHECK(selector.exhaustive());
    int asked = 0;
    selector.finish(best, [&](std::int64_t j) { ++asked; return j == 777 ? 1.0 : 0.0; }, 20000);
    CHECK(asked == 20000);
    CHECK(best[0].column == 777);
}

TEST_CASE("math: groups restrict the candidates") {
    const std::vector<float> s = {9, 1, 8, 2};
    const std::vector<std::int8_t> groups = {0, 1, 0, 1};
    lt::math::TopSelector selector;
    std::vector<lt::math::Ranked> best;
    selector.reset(2, 0);
    selector.scan(s.data(), 4, 0, groups.data(), 1);
    selector.finish(best, [&](std::int64_t j) { return double(s[static_cast<std::size_t>(j)]); }, 4, groups.data(), 1);
    CHECK(columns_of(best) == std::vector<std::int64_t>{3, 1});
}
