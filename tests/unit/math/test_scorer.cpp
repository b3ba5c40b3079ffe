// Exact top-k scoring against a brute-force double computation: the float32
// path on well-separated scores, the bfloat16 screen on near ties too;
// blocked == unblocked.
#include "lt/math/bf16.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/scorer.hpp"
#include "gaussian.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace {

using lt::test::gaussian;

// The k best columns by cosine in double, ties to the lower column.
std::vector<std::int64_t> brute_force(const std::vector<float>& queries, const std::vector<float>& weights,
                                      std::int64_t rows, std::int64_t columns, std::int64_t dim, int k) {
    std::vector<std::int64_t> result;
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* q = queries.data() + r * dim;
        const double qn = std::sqrt(lt::math::dot(q, q, dim));
        std::vector<double> s(static_cast<std::size_t>(columns));
        for (std::int64_t j = 0; j < columns; ++j) {
            const float* w = weights.data() + j * dim;
            const double wn = std::sqrt(lt::math::dot(w, w, dim));
            // The scorer normalises the weights in float first: so does this.
            std::vector<float> unit(w, w + dim);
            lt::math::normalize_rows(unit.data(), 1, dim);
            s[j] = wn > 0 && qn > 0 ? lt::math::dot(q, unit.data(), dim) / qn : 0.0;
        }
        std::vector<std::int64_t> order(static_cast<std::size_t>(columns));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return s[a] > s[b]; });
        result.insert(result.end(), order.begin(), order.begin() + k);
    }
    return result;
}

}  // namespace

TEST_CASE("math: TopScorer float32 finds the best cosines; blocked == unblocked") {
    const std::int64_t rows = 300, columns = 97, dim = 24;
    const auto queries = gaussian(rows * dim, 1), weights = gaussian(columns * dim, 2);
    lt::math::TopScorer scorer(weights.data(), columns, dim, true, nullptr, lt::math::cpu_backend(),
                               lt::math::Screen::never);
    CHECK(!scorer.screened());
    lt::math::QueryBlock block;
    lt::math::TopRequest request;
    request.k = 3;
    lt::math::TopResult whole, part;
    block.assign(queries.data(), rows, dim);
    scorer.top(block, request, whole);
    CHECK(whole.columns == brute_force(queries, weights, rows, columns, dim, 3));
    std::vector<std::int64_t> pieces;
    for (std::int64_t first = 0; first < rows; first += 7) {
        block.assign(queries.data() + first * dim, std::min<std::int64_t>(7, rows - first), dim);
        scorer.top(block, request, part);
        pieces.insert(pieces.end(), part.columns.begin(), part.columns.end());
    }
    CHECK(pieces == whole.columns);
}

TEST_CASE("math: TopScorer with a linear classifier adds the bias to raw scores") {
    // x = (2, 0): x.w + b = (2 + 0, 0 + 1.5, -2 + 3) = (2, 1.5, 1): columns 0, 1, 2.
    const std::vector<float> weights = {1, 0, 0, 1, -1, 0}, bias = {0, 1.5f, 3}, query = {2, 0};
    lt::math::TopScorer scorer(weights.data(), 3, 2, false, bias.data(), lt::math::cpu_backend());
    lt::math::QueryBlock block;
    block.assign(query.data(), 1, 2);
    lt::math::TopRequest request;
    request.k = 3;
    std::vector<std::int64_t> label = {2};
    request.label_columns = label.data();
    request.label_values = true;
    lt::math::TopResult result;
    scorer.top(block, request, result);
    CHECK(result.columns == std::vector<std::int64_t>{0, 1, 2});
    CHECK(result.label_rank[0] == 2);
    CHECK(result.label_value[0] == doctest::Approx(1));
}

TEST_CASE("math: TopScorer's softmax normaliser is log sum_j exp(s * score_j)") {
    // Scores (2, 1.5, 1) as above; with s = 3: log(e^6 + e^4.5 + e^3).
    const std::vector<float> weights = {1, 0, 0, 1, -1, 0}, bias = {0, 1.5f, 3}, query = {2, 0};
    lt::math::TopScorer scorer(weights.data(), 3, 2, false, bias.data(), lt::math::cpu_backend());
    lt::math::QueryBlock block;
    block.assign(query.data(), 1, 2);
    lt::math::TopRequest request;
    request.k = 1;
    request.softmax_scale = 3;
    lt::math::TopResult result;
    scorer.top(block, request, result);
    CHECK(result.log_normalizer[0] == doctest::Approx(std::log(std::exp(6.0) + std::exp(4.5) + std::exp(3.0))));
    // The best column's probability: e^6 / (e^6 + e^4.5 + e^3) = 0.7856
    CHECK(std::exp(3 * result.values[0] - result.log_normalizer[0]) == doctest::Approx(0.78559).epsilon(1e-4));
}

TEST_CASE("math: the bfloat16 screen gives the exact top-k, near ties included") {
    if (!lt::math::bf16::supported()) {
        MESSAGE("no AVX512-BF16 on this CPU: the screen is not exercised here");
        return;
    }
    const std::int64_t rows = 250, columns = 300, dim = 70;  // odd sizes: padding everywhere
    auto queries = gaussian(rows * dim, 3), weights = gaussian(columns * dim, 4);
    // Near ties below bfloat16's resolution: column 2j+1 is column 2j with a
    // 1e-5 relative change, and column 299 repeats column 0 exactly.
    for (std::int64_t j = 0; j + 1 < columns; j += 2)
        for (std::int64_t d = 0; d < dim; ++d)
            weights[(j + 1) * dim + d] = weights[j * dim + d] * (1 + (d % 2 ? 1e-5f : -1e-5f));
    std::copy(weights.begin(), weights.begin() + dim, weights.begin() + 299 * dim);
    // Some queries are weight rows: their best cosine is 1, tied with a neighbour.
    for (std::int64_t r = 0; r < 20; ++r)
        std::copy(weights.begin() + r * 13 * dim, weights.begin() + (r * 13 + 1) * dim, queries.begin() + r * dim);
    std::fill(queries.begin() + 20 * dim, queries.begin() + 21 * dim, 0.0f);  // a zero row: ties everywhere
    lt::math::TopScorer screened(weights.data(), columns, dim, true, nullptr, lt::math::cpu_backend(),
                                 lt::math::Screen::always);
    REQUIRE(screened.screened());
    lt::math::set_threads(2);
    lt::math::QueryBlock block;
    block.assign(queries.data(), rows, dim);
    lt::math::TopRequest request;
    request.k = 5;
    lt::math::TopResult result;
    screened.top(block, request, result);
    CHECK(result.columns == brute_force(queries, weights, rows, columns, dim, 5));
    // The zero row ties every column at 0: the first five.
    CHECK(std::vector<std::int64_t>(result.columns.begin() + 100, result.columns.begin() + 105) ==
          std::vector<std::int64_t>{0, 1, 2, 3, 4});
    // The best column alone, without exact scores where the ranking is certain.
    request.k = 1;
    request.exact_values = false;
    screened.top(block, request, result);
    CHECK(result.columns == brute_force(queries, weights, rows, columns, dim, 1));
    lt::math::set_threads(1);
}

TEST_CASE("math: bfloat16 products stay within the stated bound") {
    if (!lt::math::bf16::supported()) return;
    const std::int64_t dim = 517;
    const auto q = gaussian(lt::math::bf16::kRows * dim, 5), w = gaussian(lt::math::bf16::kColumns * dim, 6);
    const std::int64_t pairs = lt::math::bf16::pairs(dim);
    std::vector<std::uint32_t> pq(static_cast<std::size_t>(pairs * lt::math::bf16::kRows)),
        pw(static_cast<std::size_t>(pairs * lt::math::bf16::kColumns));
    lt::math::bf16::pack_queries(q.data(), nullptr, lt::math::bf16::kRows, dim, pq.data());
    lt::math::bf16::pack_weights(w.data(), lt::math::bf16::kColumns, dim, pw.data());
    std::vector<float> tile(lt::math::bf16::kRows * lt::math::bf16::kColumns);
    lt::math::bf16::multiply(pq.data(), 0, 1, pw.data(), 0, 1, pairs, tile.data(), lt::math::bf16::kColumns);
    const double bound = lt::math::bf16::relative_error(dim);
    double worst = 0;
    for (int i = 0; i < lt::math::bf16::kRows; ++i)
        for (int j = 0; j < lt::math::bf16::kColumns; ++j) {
            double exact = 0, absolute = 0;
            for (std::int64_t d = 0; d < dim; ++d) {
                exact += double(q[i * dim + d]) * w[j * dim + d];
                absolute += std::abs(double(q[i * dim + d]) * w[j * dim + d]);
            }
            worst = std::max(worst, std::abs(tile[i * lt::math::bf16::kColumns + j] - exact) / absolute);
        }
    CHECK(worst > 0);  // bfloat16 did round
    CHECK(worst <= bound);
}

TEST_CASE("math: TopScorer with a cosine classifier applies class scales and a bias, unscreened") {
    // x = (3, 4), unit (0.6, 0.8); rows (1, 0), (0, 2), (-1, 0) at unit length:
    // cosines 0.6, 0.8, -0.6; times g = (2, 1, 1) plus b = (0, 0, 2):
    // scores 1.2, 0.8, 1.4: columns 2, 0, 1.
    const std::vector<float> weights = {1, 0, 0, 2, -1, 0}, scales = {2, 1, 1}, bias = {0, 0, 2}, query = {3, 4};
    lt::math::TopScorer scorer(weights.data(), 3, 2, true, bias.data(), lt::math::cpu_backend(),
                               lt::math::Screen::always, scales.data());
    CHECK(!scorer.screened());
    lt::math::QueryBlock block;
    block.assign(query.data(), 1, 2);
    lt::math::TopRequest request;
    request.k = 3;
    lt::math::TopResult result;
    scorer.top(block, request, result);
    CHECK(result.columns == std::vector<std::int64_t>{2, 0, 1});
    CHECK(result.values[0] == doctest::Approx(1.4));
    CHECK(result.values[1] == doctest::Approx(1.2));
    CHECK(result.values[2] == doctest::Approx(0.8));
}
