#include "lt/transfer/eval.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/math/backend.hpp"
#include "lt/math/blas.hpp"
#include "lt/math/memory.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/scorer.hpp"
#include "lt/math/select.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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
    SetScorer(const ClassifierSet& set, const Settings& settings, const math::Backend& backend, std::int64_t dim)
        : backend_(backend) {
        const Classifier& first = set.members.front();
        if (first.weights.cols != dim)
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
        if (set.members.size() == 1) {
            const std::vector<float> bias = score_bias(first);
            single_ = std::make_unique<math::TopScorer>(
                first.weights.values.data(), first.weights.rows, dim, first.kind == "cosine",
                bias.empty() ? nullptr : bias.data(), backend, settings.screen,
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

    const ClassIndex& columns() const { return columns_; }
    const std::map<std::int64_t, std::int64_t>& training_counts() const { return training_counts_; }
    const std::int8_t* column_groups() const { return column_groups_.data(); }

    void top(math::QueryBlock& block, const math::TopRequest& request, math::TopResult& out) {
        if (single_) {
            single_->top(block, request, out);
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
    std::vector<Member> members_;
    std::vector<float> logits_, mean_;
};

std::int64_t automatic_block_rows(const std::vector<ClassifierSet>& classifiers) {
    std::int64_t widest = 1;
    for (const auto& set : classifiers)
        widest = std::max(widest, set.members.front().weights.rows * (set.members.size() > 1 ? 2 : 1));
    return std::clamp<std::int64_t>(kScoreBytes / (4 * widest), 256, 4096);
}

// Accuracies (and predictions) from the per-sample pass.
class Tallies : public Visitor {
public:
    Tallies(std::size_t sets, std::int64_t rows, int top_k, std::vector<std::vector<std::int64_t>>* predictions)
        : tallies_(sets), top_k_(top_k), predictions_(predictions) {
        if (predictions_) predictions_->assign(sets, std::vector<std::int64_t>(static_cast<std::size_t>(rows), -1));
    }
    void start(const std::vector<ClassIndex>& columns) override { columns_ = &columns; }
    void visit(std::size_t set, const Sample& sample) override {
        if (predictions_ && sample.top_count > 0 && sample.top[0] >= 0)
            (*predictions_)[set][static_cast<std::size_t>(sample.row)] = (*columns_)[set].ids()[sample.top[0]];
        if (sample.label < 0) return;
        Tally& tally = tallies_[set][sample.label];
        ++tally.samples;
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
    std::vector<std::vector<std::int64_t>>* predictions_;
    const std::vector<ClassIndex>* columns_ = nullptr;
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

    std::vector<std::unique_ptr<SetScorer>> scorers;
    std::vector<ClassIndex> columns;
    for (const auto& set : classifiers) {
        scorers.push_back(std::make_unique<SetScorer>(set, settings, backend, dim));
        columns.push_back(scorers.back()->columns());
    }
    visitor.start(columns);

    const std::int64_t block = settings.block_rows > 0 ? settings.block_rows : automatic_block_rows(classifiers);
    std::vector<float> buffer;
    math::allocate(buffer, static_cast<std::size_t>(std::min(block, rows) * dim), "a block of features", kBlockHint);
    std::vector<std::int64_t> label_columns;
    std::vector<std::int8_t> row_groups;
    math::QueryBlock queries;
    math::TopResult result;
    math::TopRequest request;
    request.k = std::max(1, settings.top_k);
    request.exact_values = false;  // the accuracies need the ranking only
    Progress progress("evaluating", rows, "rows");
    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t count = std::min(block, rows - first);
        features.read(first, count, buffer.data());
        queries.assign(buffer.data(), count, dim);  // one normalisation for every set
        for (std::size_t s = 0; s < scorers.size(); ++s) {
            SetScorer& scorer = *scorers[s];
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
            scorer.top(queries, request, result);
            Sample sample;
            sample.top_count = result.k;
            for (std::int64_t r = 0; r < count; ++r) {
                sample.row = first + r;
                sample.label = labels[static_cast<std::size_t>(first + r)];
                sample.label_column = label_columns[r];
                sample.top = result.columns.data() + r * result.k;
                sample.top_scores = result.values.data() + r * result.k;
                sample.label_rank = result.label_rank[r];
                visitor.visit(s, sample);
            }
        }
        progress.advance(count);
    }
    progress.finish();
}

std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, std::vector<std::vector<std::int64_t>>* predictions) {
    Tallies tallies(classifiers.size(), features.rows(), settings.top_k, predictions);
    score(features, classifiers, settings, tallies);

    std::vector<Result> results;
    for (std::size_t s = 0; s < classifiers.size(); ++s) {
        std::map<std::int64_t, std::int64_t> training_counts;
        if (settings.counts) {
            training_counts = *settings.counts;
        } else {
            const Classifier& first = classifiers[s].members.front();
            for (std::size_t c = 0; c < first.class_ids.size(); ++c)
                training_counts[first.class_ids[c]] = first.class_counts[c];
        }
        Result result;
        result.name = classifiers[s].source;
        double group_sum[3] = {0, 0, 0};
        double class_sum = 0;
        std::int64_t correct = 0, top5 = 0;
        for (const auto& [label, tally] : tallies.of(s)) {
            double accuracy = 100.0 * static_cast<double>(tally.correct) / static_cast<double>(tally.samples);
            class_sum += accuracy;
            result.samples += tally.samples;
            correct += tally.correct;
            top5 += tally.top5;
            auto found = training_counts.find(label);
            if (found == training_counts.end()) continue;  // no group: counts in total only
            const auto group = static_cast<int>(settings.groups.of(found->second));
            group_sum[group] += accuracy;
            ++result.classes[group];
        }
        if (result.samples == 0)
            throw Error(features.file().file_name() + " has no labelled rows (every label is -1)");
        double* group_accuracy[3] = {&result.many, &result.medium, &result.few};
        for (int g = 0; g < 3; ++g)
            *group_accuracy[g] = result.classes[g] ? group_sum[g] / static_cast<double>(result.classes[g]) : kNaN;
        result.total = 100.0 * static_cast<double>(correct) / static_cast<double>(result.samples);
        result.top5 = tallies.has_top5() ? 100.0 * static_cast<double>(top5) / static_cast<double>(result.samples) : kNaN;
        result.class_mean = class_sum / static_cast<double>(tallies.of(s).size());
        results.push_back(result);
    }
    return results;
}

namespace {

std::string full(double value) { return std::isnan(value) ? "nan" : fmt::format("{}", value); }
std::string rounded(double value) { return std::isnan(value) ? "-" : fmt::format("{:.1f}", value); }
std::string json_number(double value) { return std::isnan(value) ? "null" : fmt::format("{}", value); }

std::string json_string(const std::string& text) {
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') quoted += std::string("\\") + c;
        else if (static_cast<unsigned char>(c) < 0x20) quoted += fmt::format("\\u{:04x}", c);
        else quoted += c;
    }
    return quoted + "\"";
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

}  // namespace

std::string format_results(const std::vector<Result>& results, const std::string& format) {
    std::string text;
    if (format == "tsv" || format == "csv") {
        const char* separator = format == "tsv" ? "\t" : ",";
        text = fmt::format("name{0}many{0}medium{0}few{0}total\n", separator);
        for (const auto& r : results)
            text += fmt::format("{1}{0}{2}{0}{3}{0}{4}{0}{5}\n", separator,
                                format == "csv" ? csv_field(r.name) : r.name, full(r.many), full(r.medium),
                                full(r.few), full(r.total));
    } else if (format == "markdown") {
        text = "| name | many | medium | few | total |\n|---|---:|---:|---:|---:|\n";
        for (const auto& r : results)
            text += fmt::format("| {} | {} | {} | {} | {} |\n", r.name, rounded(r.many), rounded(r.medium),
                                rounded(r.few), rounded(r.total));
    } else if (format == "json") {
        text = "[\n";
        for (std::size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            text += fmt::format(
                "  {{\"name\": {}, \"many\": {}, \"medium\": {}, \"few\": {}, \"total\": {}, \"class_mean\": {}, "
                "\"top5\": {}, \"samples\": {}, \"classes\": {{\"many\": {}, \"medium\": {}, \"few\": {}}}}}{}\n",
                json_string(r.name), json_number(r.many), json_number(r.medium), json_number(r.few),
                json_number(r.total), json_number(r.class_mean), json_number(r.top5), r.samples, r.classes[0],
                r.classes[1], r.classes[2], i + 1 < results.size() ? "," : "");
        }
        text += "]\n";
    } else {  // table
        std::size_t width = 4;
        for (const auto& r : results) width = std::max(width, r.name.size());
        text = fmt::format("{:<{}}  {:>6}  {:>6}  {:>6}  {:>6}\n", "name", width, "many", "medium", "few", "total");
        for (const auto& r : results)
            text += fmt::format("{:<{}}  {:>6}  {:>6}  {:>6}  {:>6}\n", r.name, width, rounded(r.many),
                                rounded(r.medium), rounded(r.few), rounded(r.total));
    }
    return text;
}

void Options::add_to(CLI::App& app) {
    app.add_option("features", features, "Test features file ('-' = stdin)")->required()->type_name("FEATS.h5");
    app.add_option("classifiers", classifiers, "Classifier, ensemble, prototypes or model files")
        ->required()
        ->expected(1, -1)
        ->type_name("CLASSIFIER.h5");
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
        ->type_name("OUT.h5");
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

void run(const Options& options, const Compute& compute) {
    math::use(compute);
    std::vector<std::string> inputs = options.classifiers;
    inputs.push_back(options.features);
    if (!options.counts.empty()) inputs.push_back(options.counts);
    if (std::count(inputs.begin(), inputs.end(), "-") > 1) throw UsageError("only one input can be read from stdin");
    if (options.predictions == "-")
        throw UsageError("--predictions needs a file: stdout carries the results table");
    options.settings.groups.check();
    std::vector<std::string> names;
    if (!options.names.empty()) {
        names = split_names(options.names);
        if (names.size() != options.classifiers.size())
            throw UsageError(fmt::format("--names gives {} names for {} classifiers", names.size(),
                                         options.classifiers.size()));
    }

    Settings settings = options.settings;
    settings.device = compute.device;
    settings.top_k = options.format == "json" ? 5 : 1;  // only json reports top-5
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

    std::vector<std::vector<std::int64_t>> predictions;
    std::vector<Result> results =
        evaluate(features, classifiers, settings, options.predictions.empty() ? nullptr : &predictions);
    for (const auto& result : results)
        if (result.classes[0] + result.classes[1] + result.classes[2] < 1)
            log::warn("{}: no test class has a training count, so no group is reported", result.name);

    if (!options.predictions.empty()) {
        h5::OutputFile out(options.predictions, "predictions");
        out.write_ints("labels", features.labels());
        std::vector<std::int64_t> flat;
        std::vector<std::string> row_names;
        for (std::size_t s = 0; s < predictions.size(); ++s) {
            flat.insert(flat.end(), predictions[s].begin(), predictions[s].end());
            row_names.push_back(results[s].name);
        }
        out.write_ints("predictions", flat.data(),
                       {static_cast<std::int64_t>(predictions.size()), features.rows()});
        out.write_strings("names", row_names);
        out.commit();
    }
    std::string text = format_results(results, options.format);
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::eval
