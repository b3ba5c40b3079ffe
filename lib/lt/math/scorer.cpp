#include "lt/math/scorer.hpp"

#include "lt/math/bf16.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/memory.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/select.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>

namespace lt::math {

namespace {

const char* kBlockHint = "use a smaller --block-rows";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Working set of one thread of the screen: a block of packed query rows and
// the tile of their scores stay in L2.
constexpr std::int64_t kCacheBytes = 512 << 10;
// The bound is rigorous for vdpbf16ps as Intel defines it (two roundings per
// instruction, counted twice over in relative_error); the margin is for
// the float32 rounding of the bound itself and of the unit query rows.
constexpr double kBoundMargin = 1.05;

void store(const std::vector<Ranked>& best, std::int64_t row, const TopRequest& request, TopResult& out) {
    const int k = request.k;
    for (int i = 0; i < k; ++i) {
        const bool have = i < static_cast<int>(best.size());
        out.columns[row * k + i] = have ? best[i].column : -1;
        out.values[row * k + i] = have ? best[i].value : kNaN;
    }
    int rank = k;
    const std::int64_t label = request.label_columns ? request.label_columns[row] : -1;
    if (label >= 0)
        for (int i = 0; i < static_cast<int>(best.size()); ++i)
            if (best[i].column == label) rank = i;
    out.label_rank[row] = rank;
}

void prepare(const TopRequest& request, std::int64_t rows, TopResult& out) {
    out.k = request.k;
    const auto cells = static_cast<std::size_t>(rows * request.k);
    allocate(out.columns, cells, "the best columns of a block", kBlockHint);
    allocate(out.values, cells, "the best scores of a block", kBlockHint);
    out.columns.resize(cells);  // allocate() only grows
    out.values.resize(cells);
    out.label_rank.resize(static_cast<std::size_t>(rows));
    if (request.label_values) out.label_value.assign(static_cast<std::size_t>(rows), kNaN);
    if (request.softmax_scale > 0) out.log_normalizer.assign(static_cast<std::size_t>(rows), kNaN);
}

}  // namespace

bool screen_available() {
    static const bool available = [] {
        const char* setting = std::getenv("LT_BF16");
        return bf16::supported() && !(setting && std::strcmp(setting, "0") == 0);
    }();
    return available;
}

// ---------------------------------------------------------------- QueryBlock

void QueryBlock::assign(const float* rows, std::int64_t count, std::int64_t dim) {
    raw_ = rows;
    count_ = count;
    dim_ = dim;
    have_unit_ = have_packed_ = false;
    norms_.resize(static_cast<std::size_t>(count));
    inverse_.resize(static_cast<std::size_t>(count));
    math::inverse_norms(rows, count, dim, inverse_.data());
    for (std::int64_t r = 0; r < count; ++r)
        norms_[r] = inverse_[r] < 1e12 ? 1.0 / inverse_[r] : std::sqrt(dot(rows + r * dim, rows + r * dim, dim));
}

const float* QueryBlock::unit() {
    if (!have_unit_) {
        allocate(unit_, static_cast<std::size_t>(count_ * dim_), "a block of unit feature rows", kBlockHint);
        scale_rows(raw_, inverse_.data(), count_, dim_, unit_.data());
        have_unit_ = true;
    }
    return unit_.data();
}

const std::uint32_t* QueryBlock::packed() {
    if (!have_packed_) {
        const std::int64_t groups = bf16::groups(count_), pairs = bf16::pairs(dim_);
        allocate(packed_, static_cast<std::size_t>(groups * pairs * bf16::kRows), "a block of bfloat16 feature rows",
                 kBlockHint);
        parallel_for(groups, 8, [&](std::int64_t begin, std::int64_t end) {
            const std::int64_t first = begin * bf16::kRows, last = std::min(count_, end * bf16::kRows);
            bf16::pack_queries(raw_ + first * dim_, inverse_.data() + first, last - first, dim_,
                               packed_.data() + begin * pairs * bf16::kRows);
        });
        have_packed_ = true;
    }
    return packed_.data();
}

// ---------------------------------------------------------------- TopScorer

TopScorer::TopScorer(const float* weights, std::int64_t count, std::int64_t dim, bool cosine, const float* bias,
                     const Backend& backend, Screen screen, const float* class_scales)
    : count_(count), dim_(dim), cosine_(cosine), backend_(backend) {
    allocate(weights_, static_cast<std::size_t>(count * dim), "the classifier's weights", "");
    std::copy(weights, weights + count * dim, weights_.begin());
    if (cosine) normalize_rows(weights_.data(), count, dim);
    const bool scaled = cosine && class_scales;
    if (scaled)
        for (std::int64_t j = 0; j < count; ++j)
            for (std::int64_t d = 0; d < dim; ++d) weights_[static_cast<std::size_t>(j * dim + d)] *= class_scales[j];
    if (bias) bias_.assign(bias, bias + count);
    // The screen stands in for the OpenBLAS backend's product, not for another backend's.
    screened_ = cosine && !scaled && bias_.empty() && &backend == &cpu_backend() && count > 0 &&
                (screen == Screen::always ? bf16::supported()
                                          : screen == Screen::automatic && screen_available() && count >= 64);
    if (screened_) {
        allocate(packed_, static_cast<std::size_t>(bf16::panels(count) * bf16::pairs(dim) * bf16::kColumns),
                 "the classifier's bfloat16 weights", "");
        bf16::pack_weights(weights_.data(), count, dim, packed_.data());
        for (std::int64_t j = 0; j < count; ++j)
            largest_weight_norm_ =
                std::max(largest_weight_norm_, std::sqrt(dot(weights_.data() + j * dim, weights_.data() + j * dim, dim)));
    } else {
        operand_ = backend.keep(weights_.data(), count, dim);
    }
}

TopScorer::~TopScorer() = default;

void TopScorer::top(QueryBlock& queries, const TopRequest& request, TopResult& out) {
    prepare(request, queries.rows(), out);
    if (queries.rows() == 0) return;
    if (screened_ && request.softmax_scale > 0)
        throw std::logic_error("TopScorer: softmax normalisers need a scorer built with Screen::never");
    if (screened_) top_screened(queries, request, out);
    else top_float32(queries, request, out);
}

void TopScorer::top_float32(QueryBlock& queries, const TopRequest& request, TopResult& out) {
    const std::int64_t rows = queries.rows(), columns = count_;
    allocate(scores_, static_cast<std::size_t>(rows * columns), "a block of scores", kBlockHint);
    backend_.multiply_transposed(cosine_ ? queries.unit() : queries.raw(), rows, *operand_, scores_.data());
    select_top(scores_.data(), rows, columns, bias_.empty() ? nullptr : bias_.data(), request, out);
}

void select_top(float* scores, std::int64_t rows, std::int64_t columns, const float* bias, const TopRequest& request,
                TopResult& out) {
    prepare(request, rows, out);
    parallel_for(rows, 64, [&](std::int64_t begin, std::int64_t end) {
        TopSelector selector;
        std::vector<Ranked> best;
        for (std::int64_t r = begin; r < end; ++r) {
            float* row = scores + r * columns;
            if (bias) add(bias, columns, row);
            const std::int8_t group = request.row_groups ? request.row_groups[r] : 0;
            selector.reset(request.k, 0);
            selector.scan(row, columns, 0, request.column_groups, group);
            selector.finish(best, [&](std::int64_t j) { return double(row[j]); }, columns, request.column_groups, group);
            store(best, r, request, out);
            const std::int64_t label = request.label_columns ? request.label_columns[r] : -1;
            if (request.label_values && label >= 0) out.label_value[r] = row[label];
            if (request.softmax_scale > 0) {
                float maximum = 0;
                const double normaliser = softmax_normaliser(row, columns, request.softmax_scale, &maximum);
                out.log_normalizer[r] = request.softmax_scale * maximum + std::log(normaliser);
            }
        }
    });
}

void TopScorer::top_screened(QueryBlock& queries, const TopRequest& request, TopResult& out) {
    const std::int64_t rows = queries.rows(), columns = count_, pairs = bf16::pairs(dim_);
    const std::uint32_t* packed_queries = queries.packed();
    const double relative = bf16::relative_error(dim_) * kBoundMargin;
    const int threads = std::max(1, math::threads());
    const std::int64_t groups = bf16::groups(rows);
    // Query groups per work item: a packed block of them fits the cache, and
    // every thread gets work.
    const std::int64_t group_bytes = pairs * bf16::kRows * 4;
    const std::int64_t per_item = std::clamp<std::int64_t>(
        std::min(kCacheBytes / group_bytes, (groups + threads - 1) / threads), 1, 32);
    const std::int64_t items = (groups + per_item - 1) / per_item;
    const std::int64_t item_rows = per_item * bf16::kRows;
    const std::int64_t panels = bf16::panels(columns);
    const std::int64_t chunk_panels =
        std::clamp<std::int64_t>(kCacheBytes / (item_rows * bf16::kColumns * 4), 1, panels);
    const std::int64_t stride = chunk_panels * bf16::kColumns;
    const float* raw = queries.raw();
    const double* inverse = queries.inverse_norms();
    const double* norms = queries.norms();

    const int team = static_cast<int>(std::min<std::int64_t>(threads, items));
    tiles_.resize(static_cast<std::size_t>(team));
    for (auto& tile : tiles_) allocate(tile, static_cast<std::size_t>(item_rows * stride), "a tile of scores", "");
    std::exception_ptr failure;
#pragma omp parallel num_threads(team)
    {
        std::vector<float>& tile = tiles_[static_cast<std::size_t>(omp_get_thread_num())];
        std::vector<TopSelector> selectors(static_cast<std::size_t>(item_rows));
        std::vector<Ranked> best;
        std::vector<double> query_in_double(static_cast<std::size_t>(dim_));
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t item = 0; item < items; ++item) try {
            const std::int64_t first_group = item * per_item, end_group = std::min(groups, first_group + per_item);
            const std::int64_t first_row = first_group * bf16::kRows;
            const std::int64_t end_row = std::min(rows, end_group * bf16::kRows);
            for (std::int64_t r = first_row; r < end_row; ++r) {
                // |q^ . w^| <= ||q^|| ||w^||: the error bound of this row's scores;
                // a zero row scores exactly 0.
                const double unit_norm = norms[r] * inverse[r];
                const double error = unit_norm > 0 ? relative * unit_norm * largest_weight_norm_ * (1 + 1e-6) + 1e-30 : 0;
                selectors[r - first_row].reset(request.k, static_cast<float>(error));
            }
            for (std::int64_t p0 = 0; p0 < panels; p0 += chunk_panels) {
                const std::int64_t p1 = std::min(panels, p0 + chunk_panels);
                bf16::multiply(packed_queries, first_group, end_group, packed_.data(), p0, p1, pairs, tile.data(),
                               stride);
                const std::int64_t first_column = p0 * bf16::kColumns;
                const std::int64_t width = std::min(columns, p1 * bf16::kColumns) - first_column;
                for (std::int64_t r = first_row; r < end_row; ++r)
                    selectors[r - first_row].scan(tile.data() + (r - first_row) * stride, width, first_column,
                                                  request.column_groups,
                                                  request.row_groups ? request.row_groups[r] : 0);
            }
            for (std::int64_t r = first_row; r < end_row; ++r) {
                // The query in double once, for all of its candidates.
                const float* query = raw + r * dim_;
                bool converted = false;
                const auto exact = [&](std::int64_t j) {
                    if (!converted) {
                        for (std::int64_t d = 0; d < dim_; ++d) query_in_double[d] = double(query[d]) * inverse[r];
                        converted = true;
                    }
                    return dot(query_in_double.data(), weights_.data() + j * dim_, dim_);
                };
                selectors[r - first_row].finish(best, exact, columns, request.column_groups,
                                                request.row_groups ? request.row_groups[r] : 0,
                                                /*certain_enough=*/!request.exact_values);
                store(best, r, request, out);
                const std::int64_t label = request.label_columns ? request.label_columns[r] : -1;
                if (request.label_values && label >= 0) out.label_value[r] = exact(label);
            }
        } catch (...) {  // an exception must not leave the OpenMP region
#pragma omp critical(lt_screen_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
}

}  // namespace lt::math
