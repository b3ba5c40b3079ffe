#include "lt/transfer/eval.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/math/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <unordered_map>

namespace lt::eval {

namespace {

constexpr std::int64_t kNoGroup = -1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One classifier set prepared for scoring: member weights in one class order
// (member 0's), on the compute device.
struct Prepared {
    struct Member {
        bool cosine = true;
        double scale = 1;
        at::Tensor weights;  // [C, D]; unit rows for cosine members
        at::Tensor bias;     // [C], linear only
    };
    std::vector<Member> members;
    std::vector<std::int64_t> class_ids;                    // column -> class id
    std::unordered_map<std::int64_t, std::int64_t> column;  // class id -> column
    std::map<std::int64_t, std::int64_t> training_counts;   // what defines the groups
    at::Tensor column_group;                                // [C] group of each column, -1 unknown
    bool any_cosine = false, any_linear = false;
};

Prepared prepare(const ClassifierSet& set, const Settings& settings, const at::Device& device, std::int64_t dim) {
    Prepared prepared;
    const Classifier& first = set.members.front();
    if (first.weights.cols != dim)
        throw Error(fmt::format("dimension mismatch: the features have dimension {}, {} has {}", dim, set.source,
                                first.weights.cols));
    prepared.class_ids = first.class_ids;
    for (std::size_t c = 0; c < first.class_ids.size(); ++c)
        prepared.column[first.class_ids[c]] = static_cast<std::int64_t>(c);
    for (const Classifier& member : set.members) {
        // Rows of every member in member 0's class order.
        std::vector<std::int64_t> order(member.class_ids.size());
        for (std::size_t r = 0; r < member.class_ids.size(); ++r) order[prepared.column.at(member.class_ids[r])] = r;
        at::Tensor index = to_tensor(order);
        Prepared::Member prepared_member;
        prepared_member.cosine = member.kind == "cosine";
        prepared_member.scale = member.scale;
        at::Tensor weights = to_tensor(member.weights).index_select(0, index);
        prepared_member.weights = (prepared_member.cosine ? normalize_rows(weights) : weights).to(device);
        if (!prepared_member.cosine)
            prepared_member.bias =
                at::from_blob(const_cast<float*>(member.bias.data()), {member.weights.rows}, at::kFloat)
                    .index_select(0, index)
                    .to(device);
        prepared.any_cosine |= prepared_member.cosine;
        prepared.any_linear |= !prepared_member.cosine;
        prepared.members.push_back(std::move(prepared_member));
    }
    if (settings.counts) {
        prepared.training_counts = *settings.counts;
    } else {
        for (std::size_t c = 0; c < first.class_ids.size(); ++c)
            prepared.training_counts[first.class_ids[c]] = first.class_counts[c];
    }
    std::vector<std::int64_t> groups;
    for (auto id : prepared.class_ids) {
        auto found = prepared.training_counts.find(id);
        groups.push_back(found == prepared.training_counts.end()
                             ? kNoGroup
                             : static_cast<std::int64_t>(settings.groups.of(found->second)));
    }
    prepared.column_group = to_tensor(groups).to(device);
    return prepared;
}

// Scores [n, C] whose argmax is the prediction: logits for one member, the
// mean of softmax probabilities for an ensemble (Eq. 8).
at::Tensor score(const Prepared& prepared, const at::Tensor& raw, const at::Tensor& unit) {
    if (prepared.members.size() == 1) {
        const auto& member = prepared.members.front();
        // The scale does not change the ranking of a single cosine classifier.
        return member.cosine ? at::mm(unit, member.weights.t()) : at::addmm(member.bias, raw, member.weights.t());
    }
    at::Tensor probabilities;
    for (const auto& member : prepared.members) {
        at::Tensor logits = member.cosine ? at::mm(unit, member.weights.t()).mul_(member.scale)
                                          : at::addmm(member.bias, raw, member.weights.t());
        at::Tensor p = at::softmax(logits, 1);
        probabilities = probabilities.defined() ? probabilities.add_(p) : p;
    }
    return probabilities.div_(static_cast<double>(prepared.members.size()));
}

struct Tally {
    std::int64_t samples = 0, correct = 0, top5 = 0;
};

}  // namespace

std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, std::vector<std::vector<std::int64_t>>* predictions) {
    at::Device device = resolve_device(settings.device);
    const std::int64_t dim = features.dim(), rows = features.rows();
    const auto& labels = features.labels();

    // With --counts, every test label must have a count: a missing one would
    // silently drop the class from its group.
    if (settings.counts)
        for (auto label : labels)
            if (label >= 0 && !settings.counts->count(label))
                throw Error(fmt::format("test label {} has no training count in {}", label, settings.counts_source),
                            "the counts file must cover every class of the test set");

    std::vector<Prepared> prepared;
    for (const auto& set : classifiers) prepared.push_back(prepare(set, settings, device, dim));
    std::vector<std::map<std::int64_t, Tally>> tallies(classifiers.size());
    if (predictions) predictions->assign(classifiers.size(), std::vector<std::int64_t>(rows, -1));

    const std::int64_t chunk = features.chunk_rows();
    std::vector<float> buffer(static_cast<std::size_t>(std::min(chunk, rows) * dim));
    Progress progress("evaluating", rows, "rows");
    for (std::int64_t first = 0; first < rows; first += chunk) {
        const std::int64_t count = std::min(chunk, rows - first);
        features.read(first, count, buffer.data());
        at::Tensor raw = at::from_blob(buffer.data(), {count, dim}, at::kFloat).to(device);
        at::Tensor unit = normalize_rows(raw);
        std::vector<std::int64_t> chunk_labels(labels.begin() + first, labels.begin() + first + count);

        for (std::size_t s = 0; s < prepared.size(); ++s) {
            const Prepared& set = prepared[s];
            at::Tensor scores = score(set, raw, unit);
            if (settings.within_group) {
                // A sample's candidates are the classes of its true group.
                std::vector<std::int64_t> sample_group(static_cast<std::size_t>(count), kNoGroup);
                for (std::int64_t r = 0; r < count; ++r) {
                    auto found = set.training_counts.find(chunk_labels[r]);
                    if (found != set.training_counts.end())
                        sample_group[r] = static_cast<std::int64_t>(settings.groups.of(found->second));
                }
                at::Tensor outside = set.column_group.unsqueeze(0) != to_tensor(sample_group).to(device).unsqueeze(1);
                scores = scores.masked_fill(outside, -std::numeric_limits<float>::infinity());
            }
            const std::int64_t top = std::min<std::int64_t>(5, scores.size(1));
            at::Tensor best = std::get<1>(at::topk(scores, top, 1)).cpu().contiguous();
            const std::int64_t* best_columns = best.data_ptr<std::int64_t>();
            // topk orders ties arbitrarily; argmax takes the first column, so a
            // tie (e.g. a zero feature: every cosine is 0) always goes to the
            // classifier's first row.
            at::Tensor first_best = scores.argmax(1).cpu().contiguous();
            const std::int64_t* top1_columns = first_best.data_ptr<std::int64_t>();
            for (std::int64_t r = 0; r < count; ++r) {
                const std::int64_t label = chunk_labels[r];
                const std::int64_t predicted = set.class_ids[top1_columns[r]];
                if (predictions) (*predictions)[s][first + r] = predicted;
                if (label < 0) continue;
                Tally& tally = tallies[s][label];
                ++tally.samples;
                auto column = set.column.find(label);
                if (column == set.column.end()) continue;  // the classifier lacks this class: an error
                tally.correct += predicted == label;
                for (std::int64_t t = 0; t < top; ++t) tally.top5 += best_columns[r * top + t] == column->second;
            }
        }
        progress.advance(count);
    }
    progress.finish();

    std::vector<Result> results;
    for (std::size_t s = 0; s < prepared.size(); ++s) {
        Result result;
        result.name = classifiers[s].source;
        double group_sum[3] = {0, 0, 0};
        double class_sum = 0;
        std::int64_t correct = 0, top5 = 0;
        for (const auto& [label, tally] : tallies[s]) {
            double accuracy = 100.0 * static_cast<double>(tally.correct) / static_cast<double>(tally.samples);
            class_sum += accuracy;
            result.samples += tally.samples;
            correct += tally.correct;
            top5 += tally.top5;
            auto found = prepared[s].training_counts.find(label);
            if (found == prepared[s].training_counts.end()) continue;  // no group: counts in total only
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
        result.top5 = 100.0 * static_cast<double>(top5) / static_cast<double>(result.samples);
        result.class_mean = class_sum / static_cast<double>(tallies[s].size());
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
    use_threads(compute.threads);
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
