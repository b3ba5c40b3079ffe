// Exact top-k scoring of many query rows (features, prototypes) against
// fixed weight rows (a classifier): the k best columns of every row, ties to
// the lower column, without ever holding all rows x columns scores.
//
// Two ways, the same answers:
//   float32  the scores of a block of rows by one GEMM on the backend, then
//            the selection (lt/math/select.hpp) on them;
//   screen   on CPUs with AVX512-BF16, cosine scores in bfloat16 (twice the
//            float32 rate) in cache-sized tiles, which only nominate
//            candidates: every column whose exact score could be among the
//            best k, within a rigorous bound of the bfloat16 error (~0.01),
//            is re-scored in double, so the result is that of the exact
//            cosines. LT_BF16=0 in the environment turns the screen off.
#pragma once

#include "lt/math/backend.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace lt::math {

// One block of query rows, normalised once for every scorer that reads it.
class QueryBlock {
public:
    // rows: count x dim, read in place until the next assign().
    void assign(const float* rows, std::int64_t count, std::int64_t dim);
    std::int64_t rows() const { return count_; }
    std::int64_t dim() const { return dim_; }
    const float* raw() const { return raw_; }
    const double* norms() const { return norms_.data(); }
    const double* inverse_norms() const { return inverse_.data(); }  // 1 / max(norm, 1e-12)
    const float* unit();              // the rows at unit length, made once per block
    const std::uint32_t* packed();    // the same in bfloat16 for the screen, made once per block

private:
    const float* raw_ = nullptr;
    std::int64_t count_ = 0, dim_ = 0;
    std::vector<double> norms_, inverse_;
    std::vector<float> unit_;
    std::vector<std::uint32_t> packed_;
    bool have_unit_ = false, have_packed_ = false;
};

struct TopRequest {
    int k = 1;
    const std::int64_t* label_columns = nullptr;  // per row; -1: none
    bool label_values = false;                    // also the score of each row's label column
    // false: the best columns are what is asked, their scores may be the
    // screen's approximations where the ranking is certain without them.
    bool exact_values = true;
    // Candidates of row r: the columns j with column_groups[j] == row_groups[r].
    const std::int8_t* column_groups = nullptr;
    const std::int8_t* row_groups = nullptr;
    // > 0: also each row's log sum_j exp(softmax_scale * score_j) over all
    // columns, for probabilities of the best ones. Needs every float32 score:
    // the float32 way only (a scorer built with Screen::never).
    double softmax_scale = 0;
};

struct TopResult {
    int k = 1;
    std::vector<std::int64_t> columns;  // rows x k, best first; -1 past the allowed columns
    std::vector<double> values;         // rows x k (exact, unless TopRequest::exact_values is false)
    std::vector<int> label_rank;        // per row: the label column's position among them, k if absent
    std::vector<double> label_value;    // per row, when asked (NaN without a label column)
    std::vector<double> log_normalizer; // per row, when TopRequest::softmax_scale > 0
};

enum class Screen { automatic, never, always };

class TopScorer {
public:
    // weights: count x dim. cosine: scores are cosines of the query rows and
    // the weight rows (both taken at unit length), times class_scales[j] when
    // given, plus bias[j] when given; otherwise raw query . weight row + bias
    // (bias may be null; class_scales unused). Per-class scales or a bias
    // turn the bfloat16 screen off (its bound is for plain cosines).
    TopScorer(const float* weights, std::int64_t count, std::int64_t dim, bool cosine, const float* bias,
              const Backend& backend, Screen screen = Screen::automatic, const float* class_scales = nullptr);
    ~TopScorer();
    TopScorer(const TopScorer&) = delete;
    TopScorer& operator=(const TopScorer&) = delete;

    std::int64_t columns() const { return count_; }
    bool screened() const { return screened_; }
    // The weight rows as scored: at unit length (times class_scales) for cosine scores.
    const float* weights() const { return weights_.data(); }

    void top(QueryBlock& queries, const TopRequest& request, TopResult& out);

private:
    void top_float32(QueryBlock& queries, const TopRequest& request, TopResult& out);
    void top_screened(QueryBlock& queries, const TopRequest& request, TopResult& out);

    std::int64_t count_, dim_;
    bool cosine_;
    const Backend& backend_;
    std::vector<float> weights_, bias_;
    std::unique_ptr<Backend::Operand> operand_;
    std::vector<float> scores_;
    std::vector<std::vector<float>> tiles_;  // one per thread of the screen
    bool screened_ = false;
    std::vector<std::uint32_t> packed_;
    double largest_weight_norm_ = 0;
};

// The selection of TopScorer's float32 way on scores already computed:
// rows x columns (plus bias[j] when given, added in place), the scores
// themselves deciding (ties to the lower column).
void select_top(float* scores, std::int64_t rows, std::int64_t columns, const float* bias, const TopRequest& request,
                TopResult& out);

// Whether the screen runs here: AVX512-BF16, and LT_BF16 is not 0.
bool screen_available();

}  // namespace lt::math
