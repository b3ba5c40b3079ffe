#include "lt/info/info.hpp"

#include "lt/base/error.hpp"
#include "lt/base/json.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace lt::info {

// ---------------------------------------------------------------- Value

Value Value::array() {
    Value value;
    value.kind_ = Kind::array;
    return value;
}

Value Value::object() {
    Value value;
    value.kind_ = Kind::object;
    return value;
}

Value& Value::add(std::string key, Value value) {
    keys_.push_back(std::move(key));
    items_.push_back(std::move(value));
    return items_.back();
}

Value& Value::push(Value value) {
    items_.push_back(std::move(value));
    return items_.back();
}

const Value* Value::find(const std::string& key) const {
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i] == key) return &items_[i];
    return nullptr;
}

std::string Value::scalar_text(bool quoted) const {
    switch (kind_) {
        case Kind::null: return quoted ? "null" : "-";
        case Kind::boolean: return integer_ ? (quoted ? "true" : "yes") : (quoted ? "false" : "no");
        case Kind::integer: return std::to_string(integer_);
        case Kind::number:
            // JSON has no infinities nor NaN: null there; text says which.
            if (std::isfinite(number_)) return fmt::format("{}", number_);
            if (quoted) return "null";
            return std::isnan(number_) ? "nan" : number_ > 0 ? "inf" : "-inf";
        case Kind::string: {
            if (quoted) return json_string(text_);
            // One line per value in text: a multi-line value (lt_options) is joined.
            std::string line = text_;
            while (!line.empty() && line.back() == '\n') line.pop_back();
            std::string joined;
            for (char c : line) joined += c == '\n' ? std::string("; ") : std::string(1, c);
            return joined;
        }
        default: return {};
    }
}

std::string Value::json() const {
    if (is_scalar()) return scalar_text(true);
    std::string out = kind_ == Kind::array ? "[" : "{";
    for (std::size_t i = 0; i < items_.size(); ++i) {
        if (i) out += ", ";
        if (kind_ == Kind::object) out += json_string(keys_[i]) + ": ";
        out += items_[i].json();
    }
    return out + (kind_ == Kind::array ? "]" : "}");
}

std::string Value::text(int indent) const {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    std::string out;
    auto inline_array = [](const Value& value) {
        return std::all_of(value.items_.begin(), value.items_.end(), [](const Value& item) { return item.is_scalar(); });
    };
    auto line_of = [&](const Value& value) {
        std::string items;
        for (std::size_t i = 0; i < value.items_.size(); ++i) items += (i ? ", " : "") + value.items_[i].scalar_text(false);
        return "[" + items + "]";
    };
    for (std::size_t i = 0; i < items_.size(); ++i) {
        const Value& item = items_[i];
        const std::string head = kind_ == Kind::object ? pad + keys_[i] + ":" : pad + "-";
        if (item.is_scalar()) {
            out += head + " " + item.scalar_text(false) + "\n";
        } else if (item.kind_ == Kind::array && inline_array(item)) {
            out += head + " " + line_of(item) + "\n";
        } else if (item.items_.empty()) {
            out += head + " none\n";
        } else if (kind_ == Kind::array && item.kind_ == Kind::object) {
            // "- first: member" with the other members under it
            std::string nested = item.text(indent + 2);
            out += nested.replace(0, static_cast<std::size_t>(indent) + 2, pad + "- ");
        } else {
            out += head + "\n" + item.text(indent + 2);
        }
    }
    return out;
}

// ---------------------------------------------------------------- describing

Value count_summary(const std::vector<std::int64_t>& counts, const GroupThresholds& thresholds) {
    Value summary = Value::object();
    std::vector<std::int64_t> sorted(counts);
    std::sort(sorted.begin(), sorted.end());
    std::int64_t samples = 0;
    for (std::int64_t count : counts) samples += count;
    summary.add("classes", static_cast<std::int64_t>(counts.size()));
    summary.add("samples", samples);
    if (!sorted.empty()) {
        const std::size_t middle = sorted.size() / 2;
        const double median = sorted.size() % 2 ? static_cast<double>(sorted[middle])
                                                : 0.5 * static_cast<double>(sorted[middle - 1] + sorted[middle]);
        summary.add("min", sorted.front());
        summary.add("median", median);
        summary.add("max", sorted.back());
    }
    const GroupSizes sizes = group_sizes(counts, thresholds);
    Value& groups = summary.add("groups", Value::object());
    groups.add("many", sizes.many);
    groups.add("medium", sizes.medium);
    groups.add("few", sizes.few);
    if (sizes.absent) groups.add("without_samples", sizes.absent);
    groups.add("thresholds", fmt::format("many n > {}, few n < {}", thresholds.many, thresholds.few));
    return summary;
}

namespace {

Value shape_value(const h5::Shape& shape) {
    Value value = Value::array();
    for (std::int64_t extent : shape) value.push(extent);
    return value;
}

// Shape, element type and storage of a dataset.
Value dataset_value(const h5::Group& group, const std::string& name) {
    Value value = Value::object();
    value.add("shape", shape_value(group.shape(name)));
    const h5::Group::Layout layout = group.layout(name);
    value.add("type", layout.type);
    if (!layout.chunks.empty()) value.add("chunks", shape_value(layout.chunks));
    if (!layout.filters.empty()) {
        Value& filters = value.add("filters", Value::array());
        for (const std::string& filter : layout.filters) filters.push(filter);
    }
    return value;
}

Value attribute_value(const h5::Group& group, const std::string& name) {
    switch (group.attr_kind(name)) {
        case h5::Group::AttrKind::string: return group.attr_string(name);
        case h5::Group::AttrKind::integer: return group.attr_int(name);
        case h5::Group::AttrKind::floating: return group.attr_double(name);
        default: return "(not a single number or string)";
    }
}

Value id_range(const std::vector<std::int64_t>& ids) {
    Value value = Value::object();
    value.add("min", *std::min_element(ids.begin(), ids.end()));
    value.add("max", *std::max_element(ids.begin(), ids.end()));
    return value;
}

// One classifier (a file's root, a model's /classifier, an ensemble member):
// kind, scale, size, composition.
Value classifier_value(const Classifier& classifier) {
    Value value = Value::object();
    value.add("kind", classifier.kind);
    if (classifier.kind == "cosine") value.add("scale", classifier.scale);
    value.add("classes", classifier.weights.rows);
    value.add("dim", classifier.weights.cols);
    if (!classifier.bias.empty()) value.add("bias", true);
    if (!classifier.class_scales.empty()) value.add("class_scales", true);
    for (const auto& [name, text] : classifier.adjustment) {
        if (name == "p" || name == "t") value.add(name, std::stod(text));
        else value.add(name, text);
    }
    if (!classifier.composition.empty()) {
        Value& composition = value.add("composition", Value::object());
        for (const std::string name : {"mode", "k", "tau", "terms"}) {
            auto found = classifier.composition.find(name);
            if (found == classifier.composition.end()) continue;
            if (name == "k")
                composition.add(name, static_cast<std::int64_t>(std::llround(std::stod(found->second))));
            else if (name == "tau")
                composition.add(name, std::stod(found->second));
            else
                composition.add(name, found->second);
        }
    }
    return value;
}

// The per-class counts of a classifier set: member 0's (members share their
// class ids; their counts are the same training counts).
void add_classifier_counts(Value& doc, const Classifier& classifier, const GroupThresholds& thresholds) {
    doc.add("class_ids", id_range(classifier.class_ids));
    doc.add("class_counts", count_summary(classifier.class_counts, thresholds));
}

void describe_features(const h5::InputFile& in, Value& doc, const GroupThresholds& thresholds) {
    const FeaturesHeader header = read_features_header(in);
    doc.add("features", dataset_value(in, "features"));
    Value& labels = doc.add("labels", Value::object());
    std::map<std::int64_t, std::int64_t> histogram;
    std::int64_t unlabelled = 0;
    for (std::int64_t label : header.labels) {
        if (label < 0)
            ++unlabelled;
        else
            ++histogram[label];
    }
    labels.add("unlabelled", unlabelled);
    std::vector<std::int64_t> ids, counts;
    for (const auto& [id, count] : histogram) {
        ids.push_back(id);
        counts.push_back(count);
    }
    if (!ids.empty()) {
        labels.add("class_ids", id_range(ids));
        // The groups mean something when these are training features.
        labels.add("per_class", count_summary(counts, thresholds));
    }
    doc.add("ids", in.has("ids") ? Value(true) : Value(false));
    if (in.has_attr("split")) doc.add("split", attribute_value(in, "split"));
}

void describe_prototypes(const h5::InputFile& in, Value& doc, const GroupThresholds& thresholds) {
    const Prototypes prototypes = read_prototypes(in);
    doc.add("prototypes", dataset_value(in, "prototypes"));
    doc.add("classes", prototypes.prototypes.rows);
    doc.add("dim", prototypes.prototypes.cols);
    doc.add("class_ids", id_range(prototypes.class_ids));
    doc.add("counts", count_summary(prototypes.counts, thresholds));
}

void describe_classifier(const h5::InputFile& in, Value& doc, const GroupThresholds& thresholds) {
    const Classifier classifier = read_single_classifier(in, "lt-info");
    doc.add("classifier", classifier_value(classifier));
    doc.add("weights", dataset_value(in, "weights"));
    add_classifier_counts(doc, classifier, thresholds);
}

void describe_ensemble(const h5::InputFile& in, Value& doc, const GroupThresholds& thresholds) {
    const ClassifierSet set = read_classifier_set(in);
    if (in.has_attr("rule")) doc.add("rule", attribute_value(in, "rule"));
    doc.add("classes", set.members.front().weights.rows);
    doc.add("dim", set.members.front().weights.cols);
    Value& members = doc.add("members", Value::array());
    for (const Classifier& member : set.members) members.push(classifier_value(member));
    add_classifier_counts(doc, set.members.front(), thresholds);
}

// Sizes only, of a state dict's group: its weights are not read.
void add_state_dict_sizes(const h5::InputFile& in, const char* name, Value& doc) {
    if (!in.has_group(name)) return;
    const h5::Group group = in.group(name);
    std::int64_t tensors = 0, values = 0;
    for (const std::string& child : group.children()) {
        if (!group.has_dataset(child)) continue;
        ++tensors;
        if (group.layout(child).type.rfind("float", 0) != 0) continue;
        std::int64_t elements = 1;
        for (std::int64_t extent : group.shape(child)) elements *= extent;
        values += elements;
    }
    Value& value = doc.add(name, Value::object());
    value.add("tensors", tensors);
    value.add("float_values", values);
}

void describe_model(const h5::InputFile& in, Value& doc, const GroupThresholds& thresholds) {
    // A contrastive model (lt-train --loss simclr) has a projection head, no classifier.
    const bool contrastive = in.has_group("projection") && !in.has_group("classifier");
    if (!contrastive && !in.has_group("classifier"))
        throw SchemaError(in.file_name() + ": missing group '/classifier'");
    for (const char* name : {"arch", "epoch", "epochs"})
        if (in.has_attr(name)) doc.add(name, attribute_value(in, name));
    add_state_dict_sizes(in, "backbone", doc);
    if (contrastive) {
        add_state_dict_sizes(in, "projection", doc);
        if (in.has_attr("loss")) doc.add("loss", attribute_value(in, "loss"));
        doc.add("resumable", in.has_group("train_state"));
        return;
    }
    const Classifier classifier = read_classifier_group(in.group("classifier"));
    doc.add("classifier", classifier_value(classifier));
    doc.add("resumable", in.has_group("train_state"));
    add_classifier_counts(doc, classifier, thresholds);
}

void describe_predictions(const h5::InputFile& in, Value& doc) {
    const h5::Shape shape = in.shape("predictions");
    if (shape.size() != 2)
        throw SchemaError(fmt::format("{} has {} dimensions, expected [classifiers, rows]", in.where("predictions"),
                                      shape.size()));
    doc.add("predictions", dataset_value(in, "predictions"));
    doc.add("classifiers", shape[0]);
    doc.add("rows", shape[1]);
    if (in.has_dataset("names")) {
        const std::vector<std::string> names = in.read_strings("names");
        if (static_cast<std::int64_t>(names.size()) != shape[0])
            throw SchemaError(fmt::format("{} holds {} names for {} classifiers", in.where("names"), names.size(), shape[0]));
        Value& list = doc.add("names", Value::array());
        for (const std::string& name : names) list.push(name);
    }
    if (in.has_dataset("labels")) {
        h5::Shape labels_shape;
        const std::vector<std::int64_t> labels = in.read_ints("labels", &labels_shape);
        if (static_cast<std::int64_t>(labels.size()) != shape[1])
            throw SchemaError(fmt::format("{} holds {} labels for {} rows", in.where("labels"), labels.size(), shape[1]));
        doc.add("unlabelled", static_cast<std::int64_t>(std::count(labels.begin(), labels.end(), -1)));
    }
}

// One classifier's confusion counts (lt-eval --confusion): its name, classes
// and the test rows counted.
Value confusion_value(const h5::Group& group) {
    const h5::Shape shape = group.shape("confusion");
    if (shape.size() != 2 || shape[0] != shape[1])
        throw SchemaError(fmt::format("{} is not a square matrix", group.where("confusion")));
    const std::vector<std::int64_t> ids = group.read_ints("class_ids");
    if (static_cast<std::int64_t>(ids.size()) != shape[0])
        throw SchemaError(fmt::format("{} holds {} ids for {} classes", group.where("class_ids"), ids.size(), shape[0]));
    const std::vector<std::int64_t> counts = group.read_ints("confusion");
    std::int64_t samples = 0, correct = 0;
    for (std::int64_t i = 0; i < shape[0]; ++i)
        for (std::int64_t j = 0; j < shape[0]; ++j) {
            samples += counts[static_cast<std::size_t>(i * shape[0] + j)];
            if (i == j) correct += counts[static_cast<std::size_t>(i * shape[0] + j)];
        }
    Value value = Value::object();
    if (group.has_attr("name")) value.add("name", group.attr_string("name"));
    value.add("confusion", dataset_value(group, "confusion"));
    value.add("class_ids", id_range(ids));
    value.add("samples", samples);
    value.add("correct", correct);
    return value;
}

void describe_confusion(const h5::InputFile& in, Value& doc) {
    Value& list = doc.add("classifiers", Value::array());
    if (!in.has_group("classifiers")) {
        list.push(confusion_value(in));
        return;
    }
    const h5::Group all = in.group("classifiers");
    for (std::size_t i = 0; all.has_group(std::to_string(i)); ++i) list.push(confusion_value(all.group(std::to_string(i))));
}

Value provenance_value(const h5::Group& root) {
    static const std::pair<const char*, const char*> fields[] = {
        {"lt_tool", "tool"},         {"lt_version", "version"},           {"lt_git_commit", "git_commit"},
        {"lt_created_utc", "created_utc"}, {"lt_command_line", "command_line"}, {"lt_inputs", "inputs"},
        {"lt_seed", "seed"},         {"lt_device", "device"},             {"lt_options", "options"}};
    Value value = Value::object();
    for (const auto& [attribute, key] : fields)
        if (root.has_attr(attribute)) value.add(key, attribute_value(root, attribute));
    return value;
}

// Root attributes shown in the type's own section, left out of "attributes".
const std::set<std::string>& shown_attributes(const std::string& type) {
    static const std::map<std::string, std::set<std::string>> shown = {
        {"features", {"split"}},
        {"prototypes", {"normalized_input"}},
        {"classifier", {"kind", "scale", "mode", "k", "tau", "terms", "version", "adjust", "p", "t", "prior"}},
        {"ensemble", {"rule"}},
        {"model", {"arch", "epoch", "epochs"}},
        {"predictions", {}},
        {"confusion", {"name"}}};
    return shown.at(type);
}

// Root attributes that are lt's own: the schema, and the provenance record
// (lt/io/provenance.hpp), which has a section of its own.
bool is_lt_attribute(const std::string& name) { return name.rfind("lt_", 0) == 0; }

const char* const kTypes[] = {"features", "prototypes", "classifier", "ensemble", "model", "predictions", "confusion"};

std::string file_name_of(const std::string& path) { return path == "-" ? "<stdin>" : path; }

}  // namespace

Value describe(const std::string& path, const GroupThresholds& thresholds) {
    const h5::InputFile in(path);
    const std::string type = in.type();
    if (type == "unknown")
        throw SchemaError(fmt::format("{} is an HDF5 file but not an lt-h5 one: it has no lt_type attribute, nor a "
                                      "dataset lt infers a type from",
                                      in.file_name()),
                          "lt-h5 files have /features, /prototypes, /weights, /members, /backbone or /classifier");
    in.check_type(std::vector<std::string>(std::begin(kTypes), std::end(kTypes)));

    Value doc = Value::object();
    doc.add("file", in.file_name());
    doc.add("type", type);
    if (!in.has_attr("lt_type")) doc.add("type_inferred", true);
    doc.add("schema_version", in.has_attr("lt_schema_version") ? Value(in.attr_int("lt_schema_version")) : Value());
    if (type == "features") describe_features(in, doc, thresholds);
    else if (type == "prototypes") describe_prototypes(in, doc, thresholds);
    else if (type == "classifier") describe_classifier(in, doc, thresholds);
    else if (type == "ensemble") describe_ensemble(in, doc, thresholds);
    else if (type == "model") describe_model(in, doc, thresholds);
    else if (type == "predictions") describe_predictions(in, doc);
    else describe_confusion(in, doc);

    Value attributes = Value::object();
    for (const std::string& name : in.attribute_names())
        if (!is_lt_attribute(name) && !shown_attributes(type).count(name)) attributes.add(name, attribute_value(in, name));
    if (attributes.size()) doc.add("attributes", std::move(attributes));
    Value provenance = provenance_value(in);
    doc.add("provenance", provenance.size() ? std::move(provenance) : Value());
    return doc;
}

std::string class_counts_tsv(const std::string& path) {
    const h5::InputFile in(path);
    const std::map<std::int64_t, std::int64_t> counts = read_class_counts(in);
    std::string text = "class_id\tcount\n";
    for (const auto& [id, count] : counts) text += fmt::format("{}\t{}\n", id, count);
    return text;
}

void Options::add_to(CLI::App& app) {
    app.add_option("files", files, "lt-h5 files ('-' = stdin)")->required()->type_name("FILE");
    app.add_flag("--json", json, "One JSON object per file, each on one line");
    app.add_flag("--class-counts", class_counts,
                 "Print 'class_id<TAB>count' per class instead (training counts; the label histogram of features)");
    cli::add_group_thresholds(app, thresholds);
}

void run(const Options& options) {
    options.thresholds.check();
    if (std::count(options.files.begin(), options.files.end(), "-") > 1)
        throw UsageError("standard input ('-') can be given once");
    if (options.class_counts && options.files.size() != 1)
        throw UsageError("--class-counts takes one file");
    if (options.class_counts && options.json) throw UsageError("--class-counts and --json exclude each other");
    if (options.class_counts) {
        const std::string text = class_counts_tsv(options.files.front());
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
    }
    bool failed = false;
    for (std::size_t i = 0; i < options.files.size(); ++i) {
        const std::string& path = options.files[i];
        std::string text;
        try {
            const Value doc = describe(path, options.thresholds);
            text = options.json ? doc.json() + "\n" : doc.text();
        } catch (const UsageError&) {
            throw;
        } catch (const Error& error) {
            // Each line names its file, even when the reader's message does not.
            const std::string name = file_name_of(path);
            const std::string what = error.what();
            cli::report_error(Error(what.find(name) == std::string::npos ? name + ": " + what : what, error.hint()));
            failed = true;
            continue;
        }
        if (!options.json && i > 0) text = "\n" + text;
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
    }
    if (failed) throw cli::AlreadyReported{1};
}

}  // namespace lt::info
