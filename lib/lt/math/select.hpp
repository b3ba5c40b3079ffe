// Top-k selection over one row of scores, streamed in column chunks: the k
// best columns, best first, ties to the lower column (as an argmax takes the
// first maximum).
//
// The scores may be approximations known to lie within +-error of exact
// values (a bfloat16 product, lt/math/scorer.hpp): then every column whose
// exact value could be among the best k stays a candidate, and finish()
// settles the candidates with their exact values. With error 0 the scores
// themselves decide.
#pragma once

#include "lt/math/rows.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace lt::math {

struct Ranked {
    std::int64_t column = 0;
    double value = 0;
};

class TopSelector {
public:
    // k >= 1 best columns; error >= 0 bounds |score - exact| for every column.
    void reset(int k, float error) {
        k_ = k;
        error_ = error;
        candidates_.clear();
        threshold_ = -std::numeric_limits<float>::infinity();
        capacity_ = std::max(64, 16 * k);
        exhaustive_ = false;
    }

    // Scores of columns [first, first + count); with groups, only the columns
    // whose groups[column] equals `group` are candidates. The scan jumps,
    // 16 columns at a time, to the next score above the threshold; for the
    // best column alone (k = 1) every candidate raises the threshold to
    // itself minus twice the error at once.
    void scan(const float* scores, std::int64_t count, std::int64_t first, const std::int8_t* groups = nullptr,
              std::int8_t group = 0) {
        if (exhaustive_) return;
        for (std::int64_t j = first_at_least(scores, 0, count, threshold_); j < count;
             j = first_at_least(scores, j + 1, count, threshold_)) {
            const float score = scores[j];
            if (groups && groups[first + j] != group) continue;
            if (error_ == 0 && static_cast<int>(candidates_.size()) >= k_ && score == threshold_)
                continue;  // exact scores: a later column loses a tie
            candidates_.push_back({first + j, score});
            if (k_ == 1) threshold_ = std::max(threshold_, error_ == 0 ? score : score - 2 * error_);
            if (static_cast<int>(candidates_.size()) > capacity_) prune();
            if (exhaustive_) return;
        }
    }

    // Rows whose candidates would not fit (a feature of zeros scores every
    // column alike, within the error) are settled over every column instead.
    bool exhaustive() const { return exhaustive_; }

    // The best min(k, allowed columns) columns by exact value; exact(column)
    // gives the exact value of a candidate (unused when error is 0 and the
    // row was not exhaustive). columns: all columns of the row, for
    // exhaustive rows.
    // certain_enough: when no exact value could change the ranking (a single
    // candidate within reach of the best k, k = 1), that candidate is taken
    // with its approximate score and exact() is not called.
    template <class Exact>
    void finish(std::vector<Ranked>& out, Exact exact, std::int64_t columns, const std::int8_t* groups = nullptr,
                std::int8_t group = 0, bool certain_enough = false) {
        out.clear();
        const auto better = [](const Ranked& a, const Ranked& b) {
            return a.value > b.value || (a.value == b.value && a.column < b.column);
        };
        if (exhaustive_ || error_ == 0) {
            if (exhaustive_) {
                for (std::int64_t j = 0; j < columns; ++j)
                    if (!groups || groups[j] == group) out.push_back({j, exact(j)});
            } else {
                for (const auto& c : candidates_) out.push_back({c.column, double(c.score)});
            }
            const std::size_t keep = std::min<std::size_t>(static_cast<std::size_t>(k_), out.size());
            std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), better);
            out.resize(keep);
            return;
        }
        if (certain_enough && k_ == 1) {
            if (static_cast<int>(candidates_.size()) > k_) prune();
            if (!exhaustive_ && candidates_.size() == 1) {
                out.push_back({candidates_.front().column, double(candidates_.front().score)});
                return;
            }
        }
        // Candidates by approximate score, best first: once a candidate's
        // score plus the error is below the k-th exact value found, neither
        // it nor any later one can be among the best k.
        std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
            return a.score > b.score || (a.score == b.score && a.column < b.column);
        });
        for (const auto& c : candidates_) {
            if (static_cast<int>(out.size()) == k_ && double(c.score) + double(error_) < out.back().value) break;
            const Ranked ranked{c.column, exact(c.column)};
            out.insert(std::upper_bound(out.begin(), out.end(), ranked, better), ranked);
            if (static_cast<int>(out.size()) > k_) out.pop_back();
        }
    }

private:
    struct Candidate {
        std::int64_t column;
        float score;
    };

    // Keeps what can still be among the best k: scores within 2 errors of the
    // k-th best score (its exact value can be `error` lower, a candidate's
    // `error` higher).
    void prune() {
        const auto by_score = [](const Candidate& a, const Candidate& b) {
            return a.score > b.score || (a.score == b.score && a.column < b.column);
        };
        std::nth_element(candidates_.begin(), candidates_.begin() + (k_ - 1), candidates_.end(), by_score);
        const float kth = candidates_[static_cast<std::size_t>(k_ - 1)].score;
        if (error_ == 0) {
            candidates_.resize(static_cast<std::size_t>(k_));
            threshold_ = kth;
            return;
        }
        threshold_ = kth - 2 * error_;
        candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                         [&](const Candidate& c) { return c.score < threshold_; }),
                          candidates_.end());
        if (static_cast<int>(candidates_.size()) * 2 > capacity_) {
            capacity_ *= 2;
            if (capacity_ > kMaxCandidates) exhaustive_ = true;
        }
    }

    static constexpr int kMaxCandidates = 4096;
    int k_ = 1;
    float error_ = 0;
    float threshold_ = 0;
    int capacity_ = 64;
    bool exhaustive_ = false;
    std::vector<Candidate> candidates_;
};

}  // namespace lt::math
