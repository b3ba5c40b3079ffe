#include "lt/io/schema.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/io/model_layout.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace lt {

namespace {

[[noreturn]] void fail(const std::string& what) { throw SchemaError(what); }

std::string shape_text(const h5::Shape& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

// Reads a 2-D float dataset and checks it is finite.
Matrix read_matrix(const h5::Group& group, const std::string& name) {
    h5::Shape shape;
    Matrix matrix;
    matrix.values = group.read_floats(name, &shape);
    if (shape.size() != 2)
        fail(fmt::format("{} has shape {}, expected 2 dimensions [rows, dim]", group.where(name), shape_text(shape)));
    matrix.rows = shape[0];
    matrix.cols = shape[1];
    if (matrix.cols == 0) fail(group.where(name) + " has dimension 0");
    check_finite(matrix.values.data(), matrix.values.size(), group.where(name));
    return matrix;
}

// Reads a 1-D integer dataset that must have `rows` entries.
std::vector<std::int64_t> read_aligned_ints(const h5::Group& group, const std::string& name, std::int64_t rows,
                                            const std::string& aligned_with) {
    h5::Shape shape;
    auto values = group.read_ints(name, &shape);
    if (shape.size() != 1 || shape[0] != rows)
        fail(fmt::format("{} has shape {}, expected [{}] to match {}", group.where(name), shape_text(shape), rows,
                         aligned_with));
    return values;
}

void check_counts(const std::vector<std::int64_t>& counts, const std::string& where) {
    for (auto count : counts)
        if (count < 0) fail(fmt::format("{} holds a negative count ({})", where, count));
}

// "members/0", "members/1", ...: numeric order, not name order ("10" < "2").
std::vector<std::string> member_names(const h5::Group& members) {
    auto names = members.children();
    for (const auto& name : names)
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            fail(fmt::format("{}: unexpected member '{}' (members are named 0, 1, ...)", members.where(), name));
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return std::stoll(a) < std::stoll(b);
    });
    return names;
}

// Appends the classifiers of a group, flattening nested ensembles.
void collect_members(const h5::Group& group, std::vector<Classifier>& members) {
    if (group.has_group("members")) {
        h5::Group nested = group.group("members");
        auto names = member_names(nested);
        if (names.empty()) fail(nested.where() + " has no members");
        for (const auto& name : names) collect_members(nested.group(name), members);
        return;
    }
    members.push_back(read_classifier_group(group));
}

std::string format_number(double value) { return fmt::format("{}", value); }

// Writers refuse NaN/Inf too: finite inputs must give finite outputs, and a
// file is never written with a silent NaN (which would be a bug in lt).
void check_finite_output(const Matrix& matrix, const std::string& where) {
    for (std::size_t i = 0; i < matrix.values.size(); ++i)
        if (!std::isfinite(matrix.values[i]))
            fail(fmt::format("internal error: {} would hold a non-finite value in row {}; nothing was written",
                             where, static_cast<std::int64_t>(i) / std::max<std::int64_t>(1, matrix.cols)));
}

}  // namespace

void check_unique_class_ids(const std::vector<std::int64_t>& class_ids, const std::string& where) {
    std::set<std::int64_t> seen;
    for (auto id : class_ids) {
        if (id < 0) fail(fmt::format("{} holds a negative class id ({})", where, id));
        if (!seen.insert(id).second) fail(fmt::format("{} holds class id {} twice", where, id));
    }
}

void check_finite(const float* values, std::size_t count, const std::string& where) {
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) fail(fmt::format("{} holds a non-finite value (NaN, Inf, or a float64 beyond float32 range) at element {}", where, i));
}

// ---------------------------------------------------------------- features

FeaturesReader::FeaturesReader(const std::string& path) : file_(path) {
    file_.check_type("features");
    h5::Shape shape = file_.shape("features");
    if (shape.size() != 2)
        fail(fmt::format("{} has shape {}, expected [N, D]", file_.where("features"), shape_text(shape)));
    rows_ = shape[0];
    dim_ = shape[1];
    if (rows_ == 0) fail(file_.file_name() + " holds no features (N = 0)");
    if (dim_ == 0) fail(file_.where("features") + " has dimension 0");
    labels_ = read_aligned_ints(file_, "labels", rows_, "/features");
    for (auto label : labels_)
        if (label < -1) fail(fmt::format("{} holds an invalid label {} (labels are class ids, or -1 for unknown)",
                                         file_.where("labels"), label));
}

std::int64_t FeaturesReader::chunk_rows() const {
    return std::max<std::int64_t>(1, (std::int64_t{32} << 20) / (4 * dim_));
}

void FeaturesReader::read(std::int64_t first, std::int64_t count, float* out) const {
    file_.read_rows("features", first, count, out);
    for (std::int64_t i = 0; i < count * dim_; ++i)
        if (!std::isfinite(out[i]))
            fail(fmt::format("{} holds a non-finite value (NaN, Inf, or a float64 beyond float32 range) in row {}", file_.where("features"),
                             first + i / dim_));
}

FeaturesWriter::FeaturesWriter(h5::OutputFile& out, std::int64_t dim, bool with_ids, const std::string& split)
    : out_(out), dim_(dim), with_ids_(with_ids) {
    // Chunks of about 1 MiB: cheap appends, and readers can stream by rows.
    std::int64_t chunk_rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / (4 * dim));
    out_.create_extendible_floats("features", dim, chunk_rows);
    out_.create_extendible_ints("labels", 4096);
    if (with_ids_) out_.create_extendible_strings("ids", 4096);
    if (!split.empty()) out_.set_attr("split", split);
}

void FeaturesWriter::append(const float* features, const std::int64_t* labels, std::int64_t count,
                            const std::vector<std::string>& ids) {
    out_.append_rows("features", features, count);
    out_.append_ints("labels", labels, count);
    if (with_ids_) out_.append_strings("ids", ids);
}

void write_features(h5::OutputFile& out, const Matrix& features, const std::vector<std::int64_t>& labels,
                    const std::vector<std::string>& ids, const std::string& split) {
    std::int64_t chunk_rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / (4 * std::max<std::int64_t>(1, features.cols)));
    out.write_floats("features", features.values, {features.rows, features.cols}, chunk_rows);
    out.write_ints("labels", labels);
    if (!ids.empty()) out.write_strings("ids", ids);
    if (!split.empty()) out.set_attr("split", split);
}

// ---------------------------------------------------------------- prototypes

Prototypes read_prototypes(const h5::InputFile& in) {
    in.check_type("prototypes");
    Prototypes result;
    result.prototypes = read_matrix(in, "prototypes");
    if (result.prototypes.rows == 0) fail(in.file_name() + " holds no prototypes");
    result.class_ids = read_aligned_ints(in, "class_ids", result.prototypes.rows, "/prototypes");
    check_unique_class_ids(result.class_ids, in.where("class_ids"));
    result.counts = read_aligned_ints(in, "counts", result.prototypes.rows, "/prototypes");
    check_counts(result.counts, in.where("counts"));
    for (std::size_t i = 0; i < result.counts.size(); ++i)
        if (result.counts[i] == 0)
            fail(fmt::format("{}: class {} has count 0, and a prototype is the mean of at least one sample",
                             in.where("counts"), result.class_ids[i]));
    return result;
}

void write_prototypes(h5::OutputFile& out, const Prototypes& prototypes) {
    check_finite_output(prototypes.prototypes, out.where("prototypes"));
    out.write_floats("prototypes", prototypes.prototypes.values, {prototypes.prototypes.rows, prototypes.prototypes.cols});
    out.write_ints("class_ids", prototypes.class_ids);
    out.write_ints("counts", prototypes.counts);
    out.set_attr("normalized_input", std::int64_t{1});
}

// ---------------------------------------------------------------- classifiers

Classifier read_classifier_group(const h5::Group& group) {
    Classifier classifier;
    if (group.has_attr("kind")) classifier.kind = group.attr_string("kind");
    if (classifier.kind != "cosine" && classifier.kind != "linear")
        fail(fmt::format("{}: unknown classifier kind '{}' (expected cosine or linear)", group.where(), classifier.kind));
    classifier.weights = read_matrix(group, "weights");
    if (classifier.weights.rows == 0) fail(group.where("weights") + " has no rows");
    classifier.class_ids = read_aligned_ints(group, "class_ids", classifier.weights.rows, "/weights");
    check_unique_class_ids(classifier.class_ids, group.where("class_ids"));
    classifier.class_counts = read_aligned_ints(group, "class_counts", classifier.weights.rows, "/weights");
    check_counts(classifier.class_counts, group.where("class_counts"));
    if (group.has_attr("scale")) {
        classifier.scale = group.attr_double("scale");
        if (!std::isfinite(classifier.scale)) fail(group.where() + ": the scale attribute is not finite");
    } else if (classifier.kind == "cosine") {
        log::verbose("{} has no scale attribute; using {}", group.where(), kDefaultScale);
    }
    if (classifier.kind == "linear") {
        h5::Shape shape;
        classifier.bias = group.read_floats("bias", &shape);
        if (shape.size() != 1 || shape[0] != classifier.weights.rows)
            fail(fmt::format("{} has shape {}, expected [{}] to match /weights", group.where("bias"), shape_text(shape),
                             classifier.weights.rows));
        check_finite(classifier.bias.data(), classifier.bias.size(), group.where("bias"));
    }
    for (const char* name : {"mode", "terms"})
        if (group.has_attr(name)) classifier.composition[name] = group.attr_string(name);
    for (const char* name : {"k", "tau"})
        if (group.has_attr(name)) classifier.composition[name] = format_number(group.attr_double(name));
    return classifier;
}

void write_classifier_group(h5::Group& group, const Classifier& classifier) {
    check_finite_output(classifier.weights, group.where("weights"));
    group.write_floats("weights", classifier.weights.values, {classifier.weights.rows, classifier.weights.cols});
    group.write_ints("class_ids", classifier.class_ids);
    group.write_ints("class_counts", classifier.class_counts);
    group.set_attr("kind", classifier.kind);
    if (classifier.kind == "linear")
        group.write_floats("bias", classifier.bias, {static_cast<std::int64_t>(classifier.bias.size())});
    else
        group.set_attr("scale", classifier.scale);
    for (const auto& [name, value] : classifier.composition) {
        if (name == "k") group.set_attr(name, static_cast<std::int64_t>(std::stoll(value)));
        else if (name == "tau") group.set_attr(name, std::stod(value));
        else group.set_attr(name, value);
    }
}

ClassifierSet read_classifier_set(const h5::InputFile& in) {
    in.check_type({"classifier", "ensemble", "prototypes", model_layout::kType});
    ClassifierSet set;
    set.source = in.file_name();
    std::string type = in.type();
    if (type == "prototypes") {
        Prototypes prototypes = read_prototypes(in);
        Classifier classifier;
        classifier.weights = std::move(prototypes.prototypes);
        classifier.class_ids = std::move(prototypes.class_ids);
        classifier.class_counts = std::move(prototypes.counts);
        set.members.push_back(std::move(classifier));
    } else if (type == model_layout::kType) {
        set.members.push_back(read_classifier_group(in.group(model_layout::kClassifier)));
    } else if (type == "ensemble") {
        if (!in.has_group("members")) fail(in.file_name() + ": missing group '/members'");
        collect_members(in, set.members);
    } else {
        set.members.push_back(read_classifier_group(in));
    }
    // Members must describe the same classes in the same feature space.
    const Classifier& first = set.members.front();
    std::set<std::int64_t> first_ids(first.class_ids.begin(), first.class_ids.end());
    for (std::size_t m = 1; m < set.members.size(); ++m) {
        const Classifier& member = set.members[m];
        if (member.weights.cols != first.weights.cols)
            fail(fmt::format("{}: member {} has dimension {}, member 0 has {}", in.file_name(), m,
                             member.weights.cols, first.weights.cols));
        if (std::set<std::int64_t>(member.class_ids.begin(), member.class_ids.end()) != first_ids)
            fail(fmt::format("{}: member {} has other class ids than member 0", in.file_name(), m));
    }
    return set;
}

Classifier read_single_classifier(const h5::InputFile& in, const std::string& purpose) {
    ClassifierSet set = read_classifier_set(in);
    if (set.members.size() != 1)
        throw Error(fmt::format("{} is an ensemble of {} classifiers; {} takes one", in.file_name(),
                                set.members.size(), purpose),
                    "give the classifier, model or prototypes file of one member");
    return std::move(set.members.front());
}

void write_ensemble(h5::OutputFile& out, const std::vector<Classifier>& members) {
    out.set_attr("rule", "mean-prob");
    h5::Group group = out.create_group("members");
    for (std::size_t m = 0; m < members.size(); ++m) {
        h5::Group member = group.create_group(std::to_string(m));
        write_classifier_group(member, members[m]);
    }
}

std::map<std::int64_t, std::int64_t> read_class_counts(const h5::InputFile& in) {
    in.check_type({"prototypes", "classifier", "ensemble", model_layout::kType, "features"});
    std::map<std::int64_t, std::int64_t> counts;
    std::string type = in.type();
    if (type == "features") {
        for (auto label : in.read_ints("labels"))
            if (label >= 0) ++counts[label];
        return counts;
    }
    std::vector<std::int64_t> ids, values;
    if (type == "prototypes") {
        Prototypes prototypes = read_prototypes(in);
        ids = prototypes.class_ids;
        values = prototypes.counts;
    } else {
        ClassifierSet set = read_classifier_set(in);
        ids = set.members.front().class_ids;
        values = set.members.front().class_counts;
    }
    for (std::size_t i = 0; i < ids.size(); ++i) counts[ids[i]] = values[i];
    return counts;
}

}  // namespace lt
