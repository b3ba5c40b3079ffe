#include "lt/transfer/eval.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/base/json.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/base/table_text.hpp"
#include "lt/io/lists.hpp"
#include "lt/math/backend.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/memory.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/scorer.hpp"
#include "lt/math/select.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <unordered_map>

namespace lt::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* kBlockHint = "use a smaller --block-rows";
// Automatic blocks: as many feature rows as 64 MiB of scores hold.
constexpr std::int64_t kScoreBytes = std::int64_t{64} << 20;

// The groups of the columns and of the samples, for --within-group.
std::int8_t group_of(const std::map<std::int64_t, std::int64_t>& counts, const GroupThresholds& groups,
                     std::int64_t id) {
    auto found = counts.find(id);
    return found == counts.end() ? std::int8_t{-1} : static_cast<std::int8_t>(groups.of(found->second));
}

// The bias in the units of a member's scores: b for linear classifiers, b / s
// for cosine ones (their scores are g cos, their logits s times that). Empty
// when there is none.
std::vector<float> score_bias(const Classifier& member) {
    std::vector<float> bias = member.bias;
    if (member.kind == "cosine")
        for (float& b : bias) b = static_cast<float>(b / member.scale);
    return bias;
}

// One classifier set ready to score a block of features: a single member by
// a TopScorer, an ensemble (Eq. 8) by the mean of its members' softmax
// probabilities, in member 0's class order.
class SetScorer {
public:
    // scored_elsewhere: only the set's columns and groups (a value of Settings::sweep).
    SetScorer(const ClassifierSet& set, const Settings& settings, const math::Backend& backend, std::int64_t dim,
              bool scored_elsewhere = false)
        : backend_(backend) {
        const Classifier& first = set.members.front();
        if (!scored_elsewhere && first.weights.cols != dim)
            throw Error(fmt::format("dimension mismatch: the features have dimension {}, {} has {}", dim, set.source,
                                    first.weights.cols));
        columns_ = ClassIndex(first.class_ids);
        if (settings.counts) {
            training_counts_ = *settings.counts;
        } else {
            for (std::size_t c = 0; c < first.class_ids.size(); ++c)
                training_counts_[first.class_ids[c]] = first.class_counts[c];
        }
        for (auto id : first.class_ids) column_groups_.push_back(group_of(training_counts_, settings.groups, id));
        probabilities_ = settings.probabilities;
        softmax_scale_ = first.kind == "cosine" ? first.scale : 1.0;
        if (scored_elsewhere) return;
        if (set.members.size() == 1) {
            // logit = s (g cos + b / s) for a cosine classifier, f w + b for a linear one
            const std::vector<float> bias = score_bias(first);
            single_ = std::make_unique<math::TopScorer>(
                first.weights.values.data(), first.weights.rows, dim, first.kind == "cosine",
                bias.empty() ? nullptr : bias.data(), backend, probabilities_ ? math::Screen::never : settings.screen,
                first.class_scales.empty() ? nullptr : first.class_scales.data());
            return;
        }
        for (const Classifier& member : set.members) {
            // Rows of every member in member 0's class order.
            const std::vector<std::int64_t> order = ClassIndex(member.class_ids).rows(first.class_ids);
            Member prepared;
            prepared.cosine = member.kind == "cosine";
            prepared.scale = member.scale;
            math::allocate(prepared.weights, member.weights.values.size(), "an ensemble member's weights", "");
            const std::vector<float> bias = score_bias(member);
            for (std::size_t c = 0; c < order.size(); ++c) {
                const float* row = member.weights.row(order[c]);
                std::copy(row, row + dim, prepared.weights.begin() + static_cast<std::ptrdiff_t>(c) * dim);
                if (!bias.empty()) prepared.bias.push_back(bias[static_cast<std::size_t>(order[c])]);
            }
            if (prepared.cosine) math::normalize_rows(prepared.weights.data(), static_cast<std::int64_t>(order.size()), dim);
            if (prepared.cosine && !member.class_scales.empty())
                for (std::size_t c = 0; c < order.size(); ++c)
                    for (std::int64_t d = 0; d < dim; ++d)
                        prepared.weights[c * static_cast<std::size_t>(dim) + static_cast<std::size_t>(d)] *=
                            member.class_scales[static_cast<std::size_t>(order[c])];
            prepared.operand = backend.keep(prepared.weights.data(), static_cast<std::int64_t>(order.size()), dim);
            members_.push_back(std::move(prepared));
        }
    }

    // The probabilities of the best columns, from their scores and the rows' normalisers.
    static void softmax_of_best(const math::TopResult& out, double scale, std::vector<double>& probabilities) {
        probabilities.resize(out.values.size());
        for (std::size_t i = 0; i < out.values.size(); ++i)
            probabilities[i] = std::exp(scale * out.values[i] - out.log_normalizer[i / static_cast<std::size_t>(out.k)]);
    }

    const ClassIndex& columns() const { return columns_; }
    double softmax_scale() const { return softmax_scale_; }
    const std::map<std::int64_t, std::int64_t>& training_counts() const { return training_counts_; }
    const std::int8_t* column_groups() const { return column_groups_.data(); }

    // The best columns of the block; with Settings::probabilities also their
    // probabilities, rows x k in probabilities.
    void top(math::QueryBlock& block, math::TopRequest request, math::TopResult& out, std::vector<double>& probabilities) {
        if (single_) {
            if (probabilities_) request.softmax_scale = softmax_scale_;
            single_->top(block, request, out);
            if (probabilities_) softmax_of_best(out, softmax_scale_, probabilities);
            return;
        }
        // Mean of softmax probabilities; the selection then runs on them.
        const std::int64_t rows = block.rows(), classes = static_cast<std::int64_t>(columns_.size());
        math::allocate(logits_, static_cast<std::size_t>(rows * classes), "a block of ensemble logits", kBlockHint);
        math::allocate(mean_, static_cast<std::size_t>(rows * classes), "a block of ensemble probabilities", kBlockHint);
        std::fill(mean_.begin(), mean_.begin() + rows * classes, 0.0f);
        for (const Member& member : members_) {
            backend_.multiply_transposed(member.cosine ? block.unit() : block.raw(), rows, *member.operand,
                                         logits_.data());
            math::parallel_for(rows, 16, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t r = begin; r < end; ++r) {
                    float* row = logits_.data() + r * classes;
                    if (!member.bias.empty()) math::add(member.bias.data(), classes, row);
                    // softmax(scale * (g cos + b / scale)) for cosine members, softmax(x.w + b) for linear ones
                    math::softmax(row, classes, member.cosine ? member.scale : 1.0, row);
                    math::add(row, classes, mean_.data() + r * classes);
                }
            });
        }
        // The mean's 1/M does not change the ranking; it is applied to the values.
        select(mean_.data(), rows, classes, request, out, 1.0 / static_cast<double>(members_.size()));
        if (probabilities_) probabilities.assign(out.values.begin(), out.values.end());
    }

private:
    struct Member {
        bool cosine = true;
        double scale = 1;
        std::vector<float> weights, bias;  // member 0's class order; unit rows for cosine members
        std::unique_ptr<math::Backend::Operand> operand;
    };

    static void select(const float* scores, std::int64_t rows, std::int64_t columns, const math::TopRequest& request,
                       math::TopResult& out, double factor) {
        out.k = request.k;
        out.columns.resize(static_cast<std::size_t>(rows * request.k));
        out.values.resize(static_cast<std::size_t>(rows * request.k));
        out.label_rank.resize(static_cast<std::size_t>(rows));
        math::parallel_for(rows, 64, [&](std::int64_t begin, std::int64_t end) {
            math::TopSelector selector;
            std::vector<math::Ranked> best;
            for (std::int64_t r = begin; r < end; ++r) {
                const float* row = scores + r * columns;
                const std::int8_t group = request.row_groups ? request.row_groups[r] : 0;
                selector.reset(request.k, 0);
                selector.scan(row, columns, 0, request.column_groups, group);
                selector.finish(best, [&](std::int64_t j) { return double(row[j]); }, columns, request.column_groups,
                                group);
                int rank = request.k;
                for (int i = 0; i < request.k; ++i) {
                    const bool have = i < static_cast<int>(best.size());
                    out.columns[r * request.k + i] = have ? best[i].column : -1;
                    out.values[r * request.k + i] = have ? best[i].value * factor : kNaN;
                    if (have && request.label_columns && best[i].column == request.label_columns[r]) rank = i;
                }
                out.label_rank[r] = rank;
            }
        });
    }

    const math::Backend& backend_;
    ClassIndex columns_;
    std::map<std::int64_t, std::int64_t> training_counts_;
    std::vector<std::int8_t> column_groups_;
    std::unique_ptr<math::TopScorer> single_;
    double softmax_scale_ = 1;
    bool probabilities_ = false;
    std::vector<Member> members_;
    std::vector<float> logits_, mean_;
};

std::int64_t automatic_block_rows(const std::vector<ClassifierSet>& classifiers, bool swept) {
    std::int64_t widest = 1;
    for (const auto& set : classifiers) {
        const Classifier& first = set.members.front();
        widest = std::max(widest, first.weights.rows * (set.members.size() > 1 ? 2 : 1));
        // a sweep holds 5 block x C scores (its products, the running sums, the scores)
        if (swept) widest = std::max(widest, 5 * static_cast<std::int64_t>(first.class_ids.size()));
    }
    return std::clamp<std::int64_t>(kScoreBytes / (4 * widest), 256, 4096);
}

// The distinct labels >= 0, increasing.
std::vector<std::int64_t> test_classes(const std::vector<std::int64_t>& labels) {
    std::vector<std::int64_t> ids;
    for (auto label : labels)
        if (label >= 0) ids.push_back(label);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

// Accuracies and the requested outputs from the per-sample pass.
class Collector : public Visitor {
public:
    Collector(const FeaturesReader& features, std::size_t sets, int top_k, Outputs* outputs)
        : tallies_(sets), top_k_(top_k), outputs_(outputs), features_(features) {}

    void start(const std::vector<ClassIndex>& columns) override {
        columns_ = &columns;
        if (!outputs_) return;
        const std::size_t rows = static_cast<std::size_t>(features_.rows()), sets = columns.size();
        const auto k = static_cast<std::size_t>(outputs_->top_k);
        if (outputs_->predictions) outputs_->predicted.assign(sets, std::vector<std::int64_t>(rows, -1));
        if (k > 0) {
            outputs_->top_ids.assign(sets, std::vector<std::int64_t>(rows * k, -1));
            outputs_->top_probabilities.assign(sets, std::vector<float>(rows * k, std::nanf("")));
        }
        if (!outputs_->confusion) return;
        const std::vector<std::int64_t> tested = test_classes(features_.labels());
        outputs_->confusions.resize(sets);
        for (std::size_t s = 0; s < sets; ++s) {
            Confusion& confusion = outputs_->confusions[s];
            confusion.class_ids = union_ids(tested, columns[s].ids());
            const auto size = confusion.class_ids.size();
            math::allocate(confusion.counts, size * size, "the confusion counts", "see --confusion-max-gib");
            confusion_index_.emplace_back(confusion.class_ids);
            column_index_.push_back(confusion_index_.back().rows(columns[s].ids()));
        }
    }

    void visit(std::size_t set, const Sample& sample) override {
        const std::int64_t predicted_column = sample.top_count > 0 ? sample.top[0] : -1;
        const std::vector<std::int64_t>& ids = (*columns_)[set].ids();
        if (outputs_ && outputs_->predictions && predicted_column >= 0)
            outputs_->predicted[set][static_cast<std::size_t>(sample.row)] = ids[predicted_column];
        if (outputs_ && outputs_->top_k > 0) {
            const auto at = static_cast<std::size_t>(sample.row * outputs_->top_k);
            for (int i = 0; i < outputs_->top_k && i < sample.top_count && sample.top[i] >= 0; ++i) {
                outputs_->top_ids[set][at + i] = ids[sample.top[i]];
                outputs_->top_probabilities[set][at + i] = static_cast<float>(sample.top_probabilities[i]);
            }
        }
        if (sample.label < 0) return;
        Tally& tally = tallies_[set][sample.label];
        ++tally.samples;
        if (outputs_ && outputs_->confusion && predicted_column >= 0) {
            Confusion& confusion = outputs_->confusions[set];
            const auto size = static_cast<std::int64_t>(confusion.class_ids.size());
            ++confusion.counts[static_cast<std::size_t>(confusion_index_[set].row(sample.label) * size +
                                                        column_index_[set][predicted_column])];
        }
        if (sample.label_column < 0) return;  // the classifier lacks this class: an error
        tally.correct += sample.label_rank == 0;
        tally.top5 += sample.label_rank < 5;
    }

    struct Tally {
        std::int64_t samples = 0, correct = 0, top5 = 0;
    };
    const std::map<std::int64_t, Tally>& of(std::size_t set) const { return tallies_[set]; }
    bool has_top5() const { return top_k_ >= 5; }

private:
    std::vector<std::map<std::int64_t, Tally>> tallies_;
    int top_k_;
    Outputs* outputs_;
    const FeaturesReader& features_;
    const std::vector<ClassIndex>* columns_ = nullptr;
    std::vector<ClassIndex> confusion_index_;                // per set: class id -> confusion row
    std::vector<std::vector<std::int64_t>> column_index_;    // per set: column -> confusion column
};

}  // namespace

void score(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers, const Settings& settings,
           Visitor& visitor) {
    Compute compute;
    compute.threads = math::threads();
    compute.device = settings.device;
    const math::Backend& backend = math::use(compute);
    const std::int64_t dim = features.dim(), rows = features.rows();
    const auto& labels = features.labels();

    // With --counts, every test label must have a count: a missing one would
    // silently drop the class from its group.
    if (settings.counts)
        for (auto label : labels)
            if (label >= 0 && !settings.counts->count(label))
                throw Error(fmt::format("test label {} has no training count in {}", label, settings.counts_source),
                            "the counts file must cover every class of the test set");

    const std::size_t swept = settings.sweep ? settings.sweep->classifiers().size() : 0;
    const std::size_t first_swept = classifiers.size() - swept;
    if (settings.sweep && settings.sweep->dim() != dim)
        throw Error(fmt::format("dimension mismatch: the features have dimension {}, the sweep's inputs {}", dim,
                                settings.sweep->dim()));
    std::vector<std::unique_ptr<SetScorer>> scorers;
    std::vector<ClassIndex> columns;
    for (std::size_t s = 0; s < classifiers.size(); ++s) {
        scorers.push_back(std::make_unique<SetScorer>(classifiers[s], settings, backend, dim, s >= first_swept));
        columns.push_back(scorers.back()->columns());
    }
    visitor.start(columns);
    // Every value of the sweep has the same columns: one request for all.
    std::vector<math::TopResult> swept_results(swept);
    std::vector<std::vector<double>> swept_probabilities(swept);

    const std::int64_t block = settings.block_rows > 0 ? settings.block_rows
                                                       : automatic_block_rows(classifiers, settings.sweep != nullptr);
    std::vector<float> buffer;
    math::allocate(buffer, static_cast<std::size_t>(std::min(block, rows) * dim), "a block of features", kBlockHint);
    std::vector<std::int64_t> label_columns;
    std::vector<std::int8_t> row_groups;
    math::QueryBlock queries;
    math::TopResult result;
    std::vector<double> probabilities;
    math::TopRequest request;
    request.k = std::max(1, settings.top_k);
    request.exact_values = false;  // the accuracies need the ranking only
    // Each sample of a block, as set s ranked it, to the visitor.
    const auto visit_block = [&](std::size_t s, std::int64_t start, std::int64_t count, const math::TopResult& ranked,
                                 const std::vector<double>& ranked_probabilities) {
        Sample sample;
        sample.top_count = ranked.k;
        for (std::int64_t r = 0; r < count; ++r) {
            sample.row = start + r;
            sample.label = labels[static_cast<std::size_t>(start + r)];
            sample.label_column = label_columns[r];
            sample.top = ranked.columns.data() + r * ranked.k;
            sample.top_scores = ranked.values.data() + r * ranked.k;
            sample.top_probabilities = settings.probabilities ? ranked_probabilities.data() + r * ranked.k : nullptr;
            sample.label_rank = ranked.label_rank[r];
            visitor.visit(s, sample);
        }
    };
    Progress progress("evaluating", rows, "rows");
    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t count = std::min(block, rows - first);
        features.read(first, count, buffer.data());
        queries.assign(buffer.data(), count, dim);  // one normalisation for every set
        for (std::size_t s = 0; s < scorers.size(); ++s) {
            SetScorer& scorer = *scorers[s];
            if (s > first_swept) {  // the same request as the first value's, already answered
                visit_block(s, first, count, swept_results[s - first_swept], swept_probabilities[s - first_swept]);
                continue;
            }
            label_columns.resize(static_cast<std::size_t>(count));
            for (std::int64_t r = 0; r < count; ++r) {
                const std::int64_t label = labels[static_cast<std::size_t>(first + r)];
                label_columns[r] = label >= 0 ? scorer.columns().row(label) : -1;
            }
            request.label_columns = label_columns.data();
            request.column_groups = request.row_groups = nullptr;
            if (settings.within_group) {
                // A sample's candidates are the classes of its true group.
                row_groups.resize(static_cast<std::size_t>(count));
                for (std::int64_t r = 0; r < count; ++r)
                    row_groups[r] = group_of(scorer.training_counts(), settings.groups,
                                             labels[static_cast<std::size_t>(first + r)]);
                request.column_groups = scorer.column_groups();
                request.row_groups = row_groups.data();
            }
            if (s < first_swept) {
                scorer.top(queries, request, result, probabilities);
                visit_block(s, first, count, result, probabilities);
                continue;
            }
            if (settings.probabilities) request.softmax_scale = scorer.softmax_scale();
            settings.sweep->score(queries.unit(), count, [&](std::size_t v, float* scores) {
                math::select_top(scores, count, scorer.columns().size(), nullptr, request, swept_results[v]);
                if (settings.probabilities)
                    SetScorer::softmax_of_best(swept_results[v], scorer.softmax_scale(), swept_probabilities[v]);
            });
            request.softmax_scale = 0;
            visit_block(s, first, count, swept_results[0], swept_probabilities[0]);
        }
        progress.advance(count);
    }
    progress.finish();
}

std::int64_t confusion_bytes(const std::vector<std::int64_t>& labels, const std::vector<ClassifierSet>& classifiers) {
    const std::vector<std::int64_t> tested = test_classes(labels);
    std::int64_t bytes = 0;
    for (const auto& set : classifiers) {
        const auto size = static_cast<std::int64_t>(union_ids(tested, set.members.front().class_ids).size());
        bytes += size * size * static_cast<std::int64_t>(sizeof(std::int64_t));
    }
    return bytes;
}

std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, Outputs* outputs) {
    Collector collector(features, classifiers.size(), settings.top_k, outputs);
    score(features, classifiers, settings, collector);

    std::vector<Result> results;
    for (std::size_t s = 0; s < classifiers.size(); ++s) {
        if (collector.of(s).empty()) continue;  // no labelled row: nothing to report
        const Classifier& first = classifiers[s].members.front();
        std::map<std::int64_t, std::int64_t> training_counts;
        if (settings.counts) {
            training_counts = *settings.counts;
        } else {
            for (std::size_t c = 0; c < first.class_ids.size(); ++c)
                training_counts[first.class_ids[c]] = first.class_counts[c];
        }
        const ClassIndex rows(first.class_ids);
        const std::size_t custom_groups = settings.custom.names.size();
        Result result;
        result.name = classifiers[s].source;
        double group_sum[3] = {0, 0, 0};
        double class_sum = 0, ungrouped_sum = 0;
        std::vector<double> custom_sum(custom_groups, 0.0);
        result.custom_classes.assign(custom_groups, 0);
        std::int64_t correct = 0, top5 = 0;
        for (const auto& [label, tally] : collector.of(s)) {
            ClassResult item;
            item.id = label;
            item.samples = tally.samples;
            item.correct = tally.correct;
            item.top5 = tally.top5;
            item.has_row = rows.contains(label);
            const double accuracy = item.accuracy();
            class_sum += accuracy;
            result.samples += tally.samples;
            correct += tally.correct;
            top5 += tally.top5;
            if (!item.has_row) {
                result.missing_ids.push_back(label);
                result.missing_samples += tally.samples;
            }
            auto found = training_counts.find(label);
            if (found == training_counts.end()) {
                ungrouped_sum += accuracy;
                ++result.ungrouped_classes;
            } else {
                item.train_count = found->second;
                const auto group = static_cast<int>(settings.groups.of(found->second));
                group_sum[group] += accuracy;
                ++result.classes[group];
            }
            auto custom = settings.custom.of_class.find(label);
            if (custom != settings.custom.of_class.end())
                for (int g : custom->second) {
                    custom_sum[static_cast<std::size_t>(g)] += accuracy;
                    ++result.custom_classes[static_cast<std::size_t>(g)];
                }
            result.per_class.push_back(item);
        }
        const auto mean = [](double sum, std::int64_t count) {
            return count ? sum / static_cast<double>(count) : kNaN;
        };
        double* group_accuracy[3] = {&result.many, &result.medium, &result.few};
        for (int g = 0; g < 3; ++g) *group_accuracy[g] = mean(group_sum[g], result.classes[g]);
        result.ungrouped = mean(ungrouped_sum, result.ungrouped_classes);
        for (std::size_t g = 0; g < custom_groups; ++g)
            result.custom.push_back(mean(custom_sum[g], result.custom_classes[g]));
        result.total = 100.0 * static_cast<double>(correct) / static_cast<double>(result.samples);
        result.top5 = collector.has_top5() ? 100.0 * static_cast<double>(top5) / static_cast<double>(result.samples)
                                           : kNaN;
        result.class_mean = mean(class_sum, static_cast<std::int64_t>(collector.of(s).size()));
        results.push_back(result);
    }
    return results;
}

std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, std::vector<std::vector<std::int64_t>>* predictions) {
    Outputs outputs;
    outputs.predictions = predictions != nullptr;
    std::vector<Result> results = evaluate(features, classifiers, settings, &outputs);
    if (predictions) *predictions = std::move(outputs.predicted);
    return results;
}

std::string missing_rows_warning(const Result& result, bool counts_known) {
    const std::size_t classes = result.missing_ids.size();
    if (classes == 0) return {};
    std::string text = fmt::format(
        "{}: no row for {} test class{} ({} of {} test samples), id{} {}: counted as errors (accuracy 0) {}",
        result.name, classes, classes == 1 ? "" : "es", result.missing_samples, result.samples, classes == 1 ? "" : "s",
        log::some_of(result.missing_ids),
        counts_known ? "in their groups" : "in the ungrouped column (no training count)");
    if (2 * result.missing_samples > result.samples)
        text += "; more than half of the test samples have no row: the test labels and the classifier's class ids "
                "may be from different id spaces";
    return text;
}

namespace {

std::string full(double value) { return std::isnan(value) ? "nan" : fmt::format("{}", value); }
std::string rounded(double value) { return std::isnan(value) ? "-" : fmt::format("{:.1f}", value); }
std::string json_number(double value) { return std::isnan(value) ? "null" : fmt::format("{}", value); }


}  // namespace

namespace {

// The value columns of the report, after name: the shot groups and total
// always; ungrouped when some set has ungrouped classes (so that the groups
// and the total cover the same samples), top5 and the --groups on request.
struct Column {
    std::string name;
    std::function<double(const Result&)> value;
};

std::vector<Column> report_columns(const std::vector<Result>& results, const FormatOptions& options) {
    std::vector<Column> columns = {{"many", [](const Result& r) { return r.many; }},
                                   {"medium", [](const Result& r) { return r.medium; }},
                                   {"few", [](const Result& r) { return r.few; }},
                                   {"total", [](const Result& r) { return r.total; }}};
    if (std::any_of(results.begin(), results.end(), [](const Result& r) { return r.ungrouped_classes > 0; }))
        columns.push_back({"ungrouped", [](const Result& r) { return r.ungrouped; }});
    if (options.top5) columns.push_back({"top5", [](const Result& r) { return r.top5; }});
    for (std::size_t g = 0; g < options.custom_names.size(); ++g)
        columns.push_back({options.custom_names[g], [g](const Result& r) { return r.custom[g]; }});
    return columns;
}

std::string format_json(const std::vector<Result>& results, const FormatOptions& options) {
    std::string text = "[\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        std::string custom;
        for (std::size_t g = 0; g < options.custom_names.size(); ++g)
            custom += fmt::format("{}{}: {{\"accuracy\": {}, \"classes\": {}}}", g ? ", " : "",
                                  json_string(options.custom_names[g]), json_number(r.custom[g]), r.custom_classes[g]);
        text += fmt::format(
            "  {{\"name\": {}, \"many\": {}, \"medium\": {}, \"few\": {}, \"total\": {}, \"ungrouped\": {}, "
            "\"class_mean\": {}, \"top5\": {}, \"samples\": {}, \"missing_samples\": {}, "
            "\"classes\": {{\"many\": {}, \"medium\": {}, \"few\": {}, \"ungrouped\": {}}}, \"groups\": {{{}}}}}{}\n",
            json_string(r.name), json_number(r.many), json_number(r.medium), json_number(r.few), json_number(r.total),
            json_number(r.ungrouped), json_number(r.class_mean), json_number(r.top5), r.samples, r.missing_samples,
            r.classes[0], r.classes[1], r.classes[2], r.ungrouped_classes, custom, i + 1 < results.size() ? "," : "");
    }
    return text + "]\n";
}

}  // namespace

std::string format_results(const std::vector<Result>& results, const std::string& format,
                           const FormatOptions& options) {
    if (format == "json") return format_json(results, options);
    const std::vector<Column> columns = report_columns(results, options);
    std::string text;
    if (format == "tsv" || format == "csv") {
        const bool csv = format == "csv";
        const char* separator = csv ? "," : "\t";
        const auto field = [&](const std::string& name) { return csv ? csv_field(name) : tsv_field(name); };
        text = "name";
        for (const auto& column : columns) text += separator + field(column.name);
        text += "\n";
        for (const auto& r : results) {
            text += field(r.name);
            for (const auto& column : columns) text += separator + full(column.value(r));
            text += "\n";
        }
    } else if (format == "markdown") {
        text = "| name |";
        std::string rule = "|---|";
        for (const auto& column : columns) {
            text += " " + markdown_field(column.name) + " |";
            rule += "---:|";
        }
        text += "\n" + rule + "\n";
        for (const auto& r : results) {
            text += "| " + markdown_field(r.name) + " |";
            for (const auto& column : columns) text += " " + rounded(column.value(r)) + " |";
            text += "\n";
        }
    } else {  // table
        std::size_t width = 4;
        for (const auto& r : results) width = std::max(width, r.name.size());
        text = fmt::format("{:<{}}", "name", width);
        for (const auto& column : columns) text += fmt::format("  {:>{}}", column.name, std::max<std::size_t>(6, column.name.size()));
        text += "\n";
        for (const auto& r : results) {
            text += fmt::format("{:<{}}", r.name, width);
            for (const auto& column : columns)
                text += fmt::format("  {:>{}}", rounded(column.value(r)), std::max<std::size_t>(6, column.name.size()));
            text += "\n";
        }
    }
    return text;
}

std::string format_per_class(const std::vector<Result>& results, const Settings& settings,
                             const std::vector<std::string>& class_names) {
    std::string text = "class_id\tname\ttrain_count\tgroup\ttest_count";
    for (const auto& r : results) text += "\t" + tsv_field(r.name);
    text += "\n";
    if (results.empty()) return text;
    // Every set saw the same labelled rows, so the same test classes in the same order.
    for (std::size_t c = 0; c < results.front().per_class.size(); ++c) {
        const ClassResult& item = results.front().per_class[c];
        std::int64_t train_count = -1;  // --counts, or the first set that has a count
        for (const auto& r : results)
            if (train_count < 0) train_count = r.per_class[c].train_count;
        std::string group = train_count >= 0 ? group_name(settings.groups.of(train_count)) : "ungrouped";
        auto custom = settings.custom.of_class.find(item.id);
        if (custom != settings.custom.of_class.end())
            for (int g : custom->second) group += "," + settings.custom.names[static_cast<std::size_t>(g)];
        const bool named = item.id < static_cast<std::int64_t>(class_names.size());
        text += fmt::format("{}\t{}\t{}\t{}\t{}", item.id,
                            named ? tsv_field(class_names[static_cast<std::size_t>(item.id)]) : std::to_string(item.id),
                            train_count >= 0 ? std::to_string(train_count) : "-", group, item.samples);
        for (const auto& r : results) text += "\t" + full(r.per_class[c].accuracy());
        text += "\n";
    }
    return text;
}

namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

CustomGroups read_custom_groups(const std::string& path) {
    std::ifstream file = open_text_input(path, "groups file");
    CustomGroups groups;
    std::set<std::pair<std::int64_t, int>> seen;
    std::string line;
    for (std::size_t number = 1; std::getline(file, line); ++number) {
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#') continue;
        const std::size_t space = text.find_first_of(" \t");
        const std::string id_text(text.substr(0, space));
        const std::string name(space == std::string_view::npos ? std::string_view{} : trim(text.substr(space)));
        const char* hint = "each line is '<class id> <group name>'";
        std::int64_t id = -1;
        const auto parsed = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
        if (parsed.ec != std::errc() || parsed.ptr != id_text.data() + id_text.size() || id < 0)
            throw Error(fmt::format("{} line {}: '{}' is not a class id (an integer >= 0)", path, number, id_text),
                        hint);
        if (name.empty()) throw Error(fmt::format("{} line {}: class {} has no group name", path, number, id), hint);
        if (name.find_first_of(",\t\"") != std::string::npos)
            throw Error(fmt::format("{} line {}: group name '{}' has a comma, tab or quote", path, number, name), hint);
        for (const char* taken : {"name", "many", "medium", "few", "total", "ungrouped", "top5"})
            if (name == taken)
                throw Error(fmt::format("{} line {}: group name '{}' is a column of the report already", path,
                                        number, name),
                            "choose another name");
        auto at = std::find(groups.names.begin(), groups.names.end(), name);
        if (at == groups.names.end()) at = groups.names.insert(groups.names.end(), name);
        const int index = static_cast<int>(at - groups.names.begin());
        if (seen.insert({id, index}).second) groups.of_class[id].push_back(index);
    }
    if (file.bad()) throw Error(fmt::format("cannot read groups file '{}'", path));
    if (groups.names.empty()) throw Error(fmt::format("groups file '{}' defines no group", path), "each line is '<class id> <group name>'");
    return groups;
}

void Options::add_to(CLI::App& app) {
    app.add_option("features", features, "Test features file ('-' = stdin)")->required()->type_name("FEATS.h5");
    app.add_option("classifiers", classifiers, "Classifier, ensemble, prototypes or model files")
        ->expected(0, -1)
        ->type_name("CLASSIFIER.h5");
    auto* attend_option =
        app.add_option("--attend", attend,
                       "Also the classifiers lt-attend composes from this classifier or model file and --protos, "
                       "one per -k/--tau value, scored without composing them")
            ->type_name("FILE");
    auto* protos_option =
        app.add_option("--protos", protos, "With --attend: the prototypes file")->type_name("FILE")->needs(attend_option);
    attend_option->needs(protos_option);
    for (CLI::Option* option : values.add_to(app)) option->needs(attend_option);
    app.add_option("--counts", counts,
                   "File whose class counts define the groups (prototypes, classifier, model or train features)")
        ->type_name("FILE");
    app.add_option("--many", settings.groups.many, "Many-shot classes have more than this many training samples")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--few", settings.groups.few, "Few-shot classes have fewer than this many training samples")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--format", format, "Output format (tsv, csv and json at full precision)")
        ->check(CLI::IsMember({"table", "tsv", "csv", "json", "markdown"}))
        ->capture_default_str();
    app.add_option("--names", names, "Comma-separated row names (default: the file names)")->type_name("A,B,...");
    app.add_flag("--within-group", settings.within_group,
                 "Restrict the candidates of a sample to the classes of its group");
    app.add_option("--predictions", predictions, "Also write per-sample predictions (lt_type predictions)")
        ->check(cli::OutputPath)
        ->type_name("OUT.h5");
    app.add_option("--top-k", top_k,
                   "With --predictions: also the K best classes of every row and their probabilities")
        ->check(cli::Positive)
        ->type_name("K");
    app.add_option("--per-class", per_class, "Also write per-class accuracies (TSV)")
        ->check(cli::OutputPath)
        ->type_name("FILE.tsv");
    app.add_option("--confusion", confusion, "Also write confusion counts (lt_type confusion)")
        ->check(cli::OutputPath)
        ->type_name("OUT.h5");
    app.add_option("--confusion-max-gib", confusion_max_gib,
                   "Refuse --confusion when the counts of all classifiers would take more")
        ->check(cli::Positive)
        ->type_name("G")
        ->capture_default_str();
    app.add_flag("--top5", top5, "Add a top5 column (table, tsv, csv, markdown; json always has it)");
    app.add_option("--groups", groups, "Custom groups beside many/medium/few: '<class id> <group name>' per line")
        ->type_name("FILE");
    app.add_option("--class-names", class_names, "classes.txt (line i names class i), for --per-class and --confusion")
        ->type_name("FILE");
    app.add_option("--block-rows", settings.block_rows,
                   "Feature rows scored at a time (0 = as many as 64 MiB of scores hold)")
        ->check(cli::NonNegative)
        ->type_name("N")
        ->capture_default_str();
}

namespace {

std::vector<std::string> split_names(const std::string& text) {
    std::vector<std::string> names;
    std::size_t start = 0;
    // A tab or a newline would break the TSV table.
    if (text.find_first_of("\t\n\r") != std::string::npos)
        throw UsageError("--names: a name may not hold a tab or a line break");
    while (true) {
        std::size_t comma = text.find(',', start);
        names.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) return names;
        start = comma + 1;
    }
}

std::string base_name(const std::string& path) {
    if (path == "-") return "stdin";
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

namespace {

// Class names by id: classes.txt, else none (ids stand for them).
std::string class_name(const std::vector<std::string>& names, std::int64_t id) {
    return id < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(id)] : std::to_string(id);
}

void write_confusion(h5::Group& group, const Confusion& confusion, const std::string& name,
                     const std::vector<std::string>& class_names) {
    const auto size = static_cast<std::int64_t>(confusion.class_ids.size());
    group.write_ints("confusion", confusion.counts.data(), {size, size});
    group.write_ints("class_ids", confusion.class_ids);
    std::vector<std::string> names;
    for (auto id : confusion.class_ids) names.push_back(class_name(class_names, id));
    group.write_strings("names", names);
    group.set_attr("name", name);
}

// Every class id of --groups must be a test label or a class of some classifier.
void check_custom_groups(const CustomGroups& custom, const std::string& path, const std::vector<std::int64_t>& labels,
                         const std::vector<ClassifierSet>& classifiers) {
    std::set<std::int64_t> known(labels.begin(), labels.end());
    for (const auto& set : classifiers) known.insert(set.members.front().class_ids.begin(), set.members.front().class_ids.end());
    for (const auto& [id, groups] : custom.of_class)
        if (!known.count(id))
            throw Error(fmt::format("{}: class {} (group {}) is neither a test label nor a class of any classifier",
                                    path, id, custom.names[static_cast<std::size_t>(groups.front())]),
                        "the ids in --groups are class ids, as in the features' labels");
}

}  // namespace

void run(const Options& options, const Compute& compute) {
    math::use(compute);
    if (options.classifiers.empty() && options.attend.empty())
        throw UsageError("nothing to evaluate: give classifier files or --attend CLF.h5 --protos P.h5");
    std::vector<std::string> inputs = options.classifiers;
    inputs.push_back(options.features);
    if (!options.attend.empty()) inputs.insert(inputs.end(), {options.attend, options.protos});
    if (!options.counts.empty()) inputs.push_back(options.counts);
    if (std::count(inputs.begin(), inputs.end(), "-") > 1) throw UsageError("only one input can be read from stdin");
    for (const auto& [option, path] : {std::pair<const char*, const std::string&>{"--predictions", options.predictions},
                                       {"--per-class", options.per_class},
                                       {"--confusion", options.confusion}})
        if (path == "-") throw UsageError(fmt::format("{} needs a file: stdout carries the results table", option));
    cli::require_distinct_outputs(
        {{"--predictions", options.predictions}, {"--per-class", options.per_class}, {"--confusion", options.confusion}});
    if (options.top_k > 0 && options.predictions.empty())
        throw UsageError("--top-k needs --predictions OUT.h5, where the best classes are written");
    options.settings.groups.check();
    std::optional<attend::Sweep> sweep;
    if (!options.attend.empty()) sweep = options.values.sweep(options.settings.block_rows);
    const std::size_t named = options.classifiers.size() + (sweep ? sweep->size() : 0);
    std::vector<std::string> names;
    if (!options.names.empty()) {
        names = split_names(options.names);
        if (names.size() != named)
            throw UsageError(fmt::format("--names gives {} names for {} classifiers", names.size(), named));
    }

    Settings settings = options.settings;
    settings.device = compute.device;
    // top-5 for json and --top5; the K best for --top-k; top-1 otherwise
    settings.top_k = std::max(options.top_k, (options.format == "json" || options.top5) ? 5 : 1);
    settings.probabilities = options.top_k > 0;
    if (!options.groups.empty()) settings.custom = read_custom_groups(options.groups);
    const std::vector<std::string> class_names =
        options.class_names.empty() ? std::vector<std::string>{} : read_classes(options.class_names);
    if (!options.counts.empty()) {
        h5::InputFile counts_file(options.counts);
        settings.counts = read_class_counts(counts_file);
        settings.counts_source = counts_file.file_name();
    }
    FeaturesReader features(options.features);
    std::vector<ClassifierSet> classifiers;
    for (std::size_t i = 0; i < options.classifiers.size(); ++i) {
        h5::InputFile file(options.classifiers[i]);
        classifiers.push_back(read_classifier_set(file));
        classifiers.back().source = names.empty() ? base_name(options.classifiers[i]) : names[i];
    }
    std::unique_ptr<attend::SweepScorer> sweep_scorer;
    if (sweep) {
        const attend::Inputs read = attend::read_inputs(options.attend, options.protos, "lt-eval --attend");
        sweep_scorer =
            std::make_unique<attend::SweepScorer>(read.classifier, read.prototypes, *sweep, math::use(compute));
        for (std::size_t v = 0; v < sweep->size(); ++v) {
            const attend::Settings value = sweep->at(v);
            ClassifierSet set;
            set.members.push_back(sweep_scorer->classifiers()[v]);
            const std::size_t i = options.classifiers.size() + v;
            std::string name;
            if (sweep->ks.size() > 1 || sweep->taus.size() == 1) name = fmt::format("k={}", value.k);
            if (sweep->taus.size() > 1) name += fmt::format("{}tau={}", name.empty() ? "" : " ", cli::pattern_value(value.tau));
            set.source = names.empty() ? name : names[i];
            classifiers.push_back(std::move(set));
        }
        settings.sweep = sweep_scorer.get();
    }
    for (const auto& set : classifiers) {
        const auto classes = static_cast<int>(set.members.front().class_ids.size());
        if (options.top_k > classes)
            throw UsageError(fmt::format("--top-k {} is more than the {} classes of {}", options.top_k, classes,
                                         set.source),
                             fmt::format("use --top-k {} or less", classes));
    }
    const auto& labels = features.labels();
    const bool labelled = std::any_of(labels.begin(), labels.end(), [](std::int64_t label) { return label >= 0; });
    if (!labelled && options.predictions.empty())
        throw Error(features.file().file_name() + " has no labelled rows (every label is -1)",
                    "--predictions OUT.h5 [--top-k K] writes what the classifiers predict for unlabelled rows");
    if (!labelled && !(options.per_class.empty() && options.confusion.empty()))
        throw Error(features.file().file_name() + " has no labelled rows (every label is -1), so no " +
                        (options.per_class.empty() ? "--confusion" : "--per-class"),
                    "per-class accuracies and confusion counts need labels");
    if (!options.groups.empty()) check_custom_groups(settings.custom, options.groups, labels, classifiers);
    if (!options.confusion.empty()) {
        const double gib = static_cast<double>(confusion_bytes(labels, classifiers)) / double(1 << 30);
        if (gib > options.confusion_max_gib)
            throw Error(fmt::format("--confusion would hold {:.1f} GiB of counts ({} classifier{} of C x C int64)", gib,
                                    classifiers.size(), classifiers.size() == 1 ? "" : "s"),
                        fmt::format("--confusion-max-gib {:.0f} allows it", std::ceil(gib)));
    }

    Outputs outputs;
    outputs.predictions = !options.predictions.empty();
    outputs.top_k = options.top_k;
    outputs.confusion = !options.confusion.empty();
    std::vector<Result> results = evaluate(features, classifiers, settings, &outputs);
    for (const auto& result : results) {
        const std::string warning = missing_rows_warning(result, settings.counts.has_value());
        if (!warning.empty()) log::warn("{}", warning);
    }

    // All outputs or none: the HDF5 files are completed first, the TSV is
    // written, then the HDF5 files are renamed into place together.
    std::vector<std::unique_ptr<h5::OutputFile>> files;
    const auto sets = static_cast<std::int64_t>(classifiers.size());
    if (!options.predictions.empty()) {
        auto& out = *files.emplace_back(std::make_unique<h5::OutputFile>(options.predictions, "predictions"));
        out.write_ints("labels", labels);
        std::vector<std::int64_t> flat;
        std::vector<std::string> row_names;
        for (std::size_t s = 0; s < classifiers.size(); ++s) {
            flat.insert(flat.end(), outputs.predicted[s].begin(), outputs.predicted[s].end());
            row_names.push_back(classifiers[s].source);
        }
        out.write_ints("predictions", flat.data(), {sets, features.rows()});
        out.write_strings("names", row_names);
        if (options.top_k > 0) {
            std::vector<std::int64_t> ids;
            std::vector<float> probabilities;
            for (std::size_t s = 0; s < classifiers.size(); ++s) {
                ids.insert(ids.end(), outputs.top_ids[s].begin(), outputs.top_ids[s].end());
                probabilities.insert(probabilities.end(), outputs.top_probabilities[s].begin(),
                                     outputs.top_probabilities[s].end());
            }
            out.write_ints("top_class_ids", ids.data(), {sets, features.rows(), options.top_k});
            out.write_floats("top_scores", probabilities, {sets, features.rows(), options.top_k});
        }
    }
    if (!options.confusion.empty()) {
        auto& out = *files.emplace_back(std::make_unique<h5::OutputFile>(options.confusion, "confusion"));
        if (classifiers.size() == 1) {
            write_confusion(out, outputs.confusions[0], classifiers[0].source, class_names);
        } else {
            h5::Group all = out.create_group("classifiers");
            for (std::size_t s = 0; s < classifiers.size(); ++s) {
                h5::Group group = all.create_group(std::to_string(s));
                write_confusion(group, outputs.confusions[s], classifiers[s].source, class_names);
            }
        }
    }
    for (auto& file : files) file->finish();
    if (!options.per_class.empty()) write_text_atomically(options.per_class, format_per_class(results, settings, class_names));
    std::vector<h5::OutputFile*> pending;
    for (auto& file : files) pending.push_back(file.get());
    if (!pending.empty()) h5::commit_together(pending);

    if (!labelled) {
        log::info("note: {} has no labels (every label is -1), so no accuracy table; predictions are in {}",
                  features.file().file_name(), options.predictions);
        return;
    }
    std::string text = format_results(results, options.format, {options.top5, settings.custom.names});
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::eval
