#include "lt/io/schema.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/io/model_layout.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
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

// A column of `rows` values: [rows], or [rows, 1] as h5py writes an (N, 1)
// array (labels.reshape(-1, 1), a column sliced from a table).
bool is_column(const h5::Shape& shape, std::int64_t rows) {
    return (shape.size() == 1 && shape[0] == rows) || (shape.size() == 2 && shape[0] == rows && shape[1] == 1);
}

// Reads a 1-D integer dataset that must have `rows` entries.
std::vector<std::int64_t> read_aligned_ints(const h5::Group& group, const std::string& name, std::int64_t rows,
                                            const std::string& aligned_with) {
    h5::Shape shape;
    auto values = group.read_ints(name, &shape);
    if (!is_column(shape, rows))
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
        // The one rule there is; absent, it is the default (files from h5py).
        if (group.has_attr("rule") && group.attr_string("rule") != "mean-prob")
            throw SchemaError(fmt::format("{} is '{}', an ensemble rule lt does not know", group.where("rule"),
                                          group.attr_string("rule")),
                              "lt combines the members by mean-prob, the mean of their softmax");
        h5::Group nested = group.group("members");
        auto names = member_names(nested);
        if (names.empty()) fail(nested.where() + " has no members");
        for (const auto& name : names) collect_members(nested.group(name), members);
        return;
    }
    members.push_back(read_classifier_group(group));
}

std::string format_number(double value) { return fmt::format("{}", value); }

// Index of the first NaN or infinity of values, or count: the exponent bits
// of every float are tested in a loop that vectorises, then the culprit is
// found.
std::size_t first_non_finite(const float* values, std::size_t count) {
    constexpr std::size_t kStep = 4096;
    for (std::size_t start = 0; start < count; start += kStep) {
        const std::size_t end = std::min(count, start + kStep);
        std::uint32_t all_ones = 0;
        for (std::size_t i = start; i < end; ++i) {
            std::uint32_t bits;
            std::memcpy(&bits, values + i, 4);
            all_ones |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
        }
        if (all_ones)
            for (std::size_t i = start; i < end; ++i)
                if (!std::isfinite(values[i])) return i;
    }
    return count;
}

// Writers refuse NaN/Inf too: finite inputs must give finite outputs, and a
// file is never written with a silent NaN (which would be a bug in lt).
void check_finite_output(const float* values, std::int64_t rows, std::int64_t cols, std::int64_t first_row,
                         const std::string& where) {
    const auto count = static_cast<std::size_t>(rows * cols);
    const std::size_t bad = first_non_finite(values, count);
    if (bad < count)
        fail(fmt::format("internal error: {} would hold a non-finite value in row {}; nothing was written", where,
                         first_row + static_cast<std::int64_t>(bad) / std::max<std::int64_t>(1, cols)));
}

void check_finite_output(const Matrix& matrix, const std::string& where) {
    check_finite_output(matrix.values.data(), matrix.rows, matrix.cols, 0, where);
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
    const std::size_t bad = first_non_finite(values, count);
    if (bad < count)
        fail(fmt::format("{} holds a non-finite value (NaN, Inf, or a float64 beyond float32 range) at element {}",
                         where, bad));
}

// ---------------------------------------------------------------- class ids

ClassIndex::ClassIndex(std::vector<std::int64_t> class_ids) : ids_(std::move(class_ids)) {
    std::int64_t largest = -1;
    bool negative = false;
    for (auto id : ids_) {
        largest = std::max(largest, id);
        negative |= id < 0;
    }
    // Ids are usually 0..C-1: a table of rows by id is then the fastest.
    const bool dense = !negative && largest < 4 * static_cast<std::int64_t>(ids_.size()) + 1024;
    if (dense) dense_.assign(static_cast<std::size_t>(largest + 1), kNone);
    for (std::size_t i = 0; i < ids_.size(); ++i) {
        if (dense) dense_[static_cast<std::size_t>(ids_[i])] = static_cast<std::int64_t>(i);
        else sparse_[ids_[i]] = static_cast<std::int64_t>(i);
    }
}

std::int64_t ClassIndex::row(std::int64_t id) const {
    if (!sparse_.empty()) {
        auto found = sparse_.find(id);
        return found == sparse_.end() ? kNone : found->second;
    }
    return id >= 0 && id < static_cast<std::int64_t>(dense_.size()) ? dense_[static_cast<std::size_t>(id)] : kNone;
}

std::vector<std::int64_t> ClassIndex::rows(const std::vector<std::int64_t>& ids) const {
    std::vector<std::int64_t> result;
    result.reserve(ids.size());
    for (auto id : ids) result.push_back(row(id));
    return result;
}

std::optional<std::int64_t> ClassIndex::first_missing(const std::vector<std::int64_t>& ids) const {
    for (auto id : ids)
        if (!contains(id)) return id;
    return std::nullopt;
}

bool ClassIndex::same_ids(const ClassIndex& other) const {
    if (size() != other.size()) return false;
    return !other.first_missing(ids_);
}

std::vector<std::int64_t> union_ids(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    std::vector<std::int64_t> all(a);
    all.insert(all.end(), b.begin(), b.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
}

std::vector<std::int64_t> common_ids(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    std::vector<std::int64_t> sorted_a(a), sorted_b(b), both;
    std::sort(sorted_a.begin(), sorted_a.end());
    std::sort(sorted_b.begin(), sorted_b.end());
    std::set_intersection(sorted_a.begin(), sorted_a.end(), sorted_b.begin(), sorted_b.end(), std::back_inserter(both));
    return both;
}

// ---------------------------------------------------------------- features

FeaturesHeader read_features_header(const h5::InputFile& in) {
    in.check_type("features");
    FeaturesHeader header;
    h5::Shape shape = in.shape("features");
    if (shape.size() != 2)
        fail(fmt::format("{} has shape {}, expected [N, D]", in.where("features"), shape_text(shape)));
    header.rows = shape[0];
    header.dim = shape[1];
    if (header.rows == 0) fail(in.file_name() + " holds no features (N = 0)");
    if (header.dim == 0) fail(in.where("features") + " has dimension 0");
    header.labels = read_aligned_ints(in, "labels", header.rows, "/features");
    for (auto label : header.labels)
        if (label < -1) fail(fmt::format("{} holds an invalid label {} (labels are class ids, or -1 for unknown)",
                                         in.where("labels"), label));
    // /ids is optional, but when present it names every row: a list of another
    // length would pair predictions with the wrong images.
    if (in.has("ids")) {
        const h5::Shape ids = in.shape("ids");
        if (!is_column(ids, header.rows))
            fail(fmt::format("{} has shape {}, expected [{}] to match /features", in.where("ids"), shape_text(ids),
                             header.rows));
    }
    return header;
}

FeaturesReader::FeaturesReader(const std::string& path) : file_(path) {
    FeaturesHeader header = read_features_header(file_);
    rows_ = header.rows;
    dim_ = header.dim;
    labels_ = std::move(header.labels);
}

std::int64_t FeaturesReader::chunk_rows() const {
    return std::max<std::int64_t>(1, (std::int64_t{32} << 20) / (4 * dim_));
}

void FeaturesReader::read(std::int64_t first, std::int64_t count, float* out) const {
    file_.read_rows("features", first, count, out);
    const auto values = static_cast<std::size_t>(count * dim_);
    const std::size_t bad = first_non_finite(out, values);
    if (bad < values)
        fail(fmt::format("{} holds a non-finite value (NaN, Inf, or a float64 beyond float32 range) in row {}",
                         file_.where("features"), first + static_cast<std::int64_t>(bad) / dim_));
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
        // s of s * cos(f, w) is positive: 0 scores every class alike, and
        // a negative s would rank the classes backwards.
        if (classifier.kind == "cosine" && !(classifier.scale > 0))
            fail(fmt::format("{}: a cosine classifier's scale must be > 0 (got {})", group.where(),
                             format_number(classifier.scale)));
    } else if (classifier.kind == "cosine") {
        log::verbose("{} has no scale attribute; using {}", group.where(), kDefaultScale);
    }
    const std::int64_t version = group.has_attr("version") ? group.attr_int("version") : 1;
    if (version > kClassifierVersion)
        throw SchemaError(fmt::format("{} is a classifier of version {}; this lt reads up to version {}",
                                      group.where(), version, kClassifierVersion),
                          "upgrade lt");
    if (version < 1) fail(fmt::format("{} has an invalid classifier version {}", group.where(), version));
    auto per_class = [&](const char* name) {
        h5::Shape shape;
        std::vector<float> values = group.read_floats(name, &shape);
        if (shape.size() != 1 || shape[0] != classifier.weights.rows)
            fail(fmt::format("{} has shape {}, expected [{}] to match /weights", group.where(name), shape_text(shape),
                             classifier.weights.rows));
        check_finite(values.data(), values.size(), group.where(name));
        return values;
    };
    // A version-1 cosine classifier has neither: a stray /bias there was never read.
    const bool extended_cosine = classifier.kind == "cosine" && version >= 2;
    if (classifier.kind == "linear" || (extended_cosine && group.has_dataset("bias"))) classifier.bias = per_class("bias");
    if (extended_cosine && group.has_dataset("class_scales")) classifier.class_scales = per_class("class_scales");
    for (const char* name : {"mode", "terms"})
        if (group.has_attr(name)) classifier.composition[name] = group.attr_string(name);
    for (const char* name : {"k", "tau"})
        if (group.has_attr(name)) classifier.composition[name] = format_number(group.attr_double(name));
    for (const char* name : {"adjust", "prior"})
        if (group.has_attr(name)) classifier.adjustment[name] = group.attr_string(name);
    for (const char* name : {"p", "t"})
        if (group.has_attr(name)) classifier.adjustment[name] = format_number(group.attr_double(name));
    return classifier;
}

namespace {

// Everything of a classifier group but its weights.
void write_classifier_details(h5::Group& group, const Classifier& classifier) {
    group.write_ints("class_ids", classifier.class_ids);
    group.write_ints("class_counts", classifier.class_counts);
    group.set_attr("kind", classifier.kind);
    const auto rows = static_cast<std::int64_t>(classifier.class_ids.size());
    if (classifier.kind == "linear" || !classifier.bias.empty()) group.write_floats("bias", classifier.bias, {rows});
    if (classifier.kind == "cosine") {
        if (!(std::isfinite(classifier.scale) && classifier.scale > 0))
            fail(fmt::format("internal error: {} would have the scale {}; nothing was written", group.where(),
                             classifier.scale));
        group.set_attr("scale", classifier.scale);
    }
    if (!classifier.bias.empty()) check_finite_output(classifier.bias.data(), 1, rows, 0, group.where("bias"));
    if (!classifier.class_scales.empty())
        check_finite_output(classifier.class_scales.data(), 1, rows, 0, group.where("class_scales"));
    if (classifier.extended()) {
        // Only extended classifiers are marked version 2, so that every
        // other file stays readable by readers of version 1.
        group.set_attr("version", kClassifierVersion);
        if (!classifier.class_scales.empty()) group.write_floats("class_scales", classifier.class_scales, {rows});
    }
    for (const auto& [name, value] : classifier.composition) {
        if (name == "k") group.set_attr(name, static_cast<std::int64_t>(std::stoll(value)));
        else if (name == "tau") group.set_attr(name, std::stod(value));
        else group.set_attr(name, value);
    }
    for (const auto& [name, value] : classifier.adjustment) {
        if (name == "p" || name == "t") group.set_attr(name, std::stod(value));
        else group.set_attr(name, value);
    }
}

}  // namespace

void write_classifier_group(h5::Group& group, const Classifier& classifier) {
    check_finite_output(classifier.weights, group.where("weights"));
    group.write_floats("weights", classifier.weights.values, {classifier.weights.rows, classifier.weights.cols});
    write_classifier_details(group, classifier);
}

ClassifierWriter::ClassifierWriter(h5::Group& group, std::int64_t dim, std::int64_t expected_rows)
    : group_(group), dim_(dim) {
    // Chunks of about 1 MiB, as features: appends stay cheap.
    const std::int64_t chunk_rows =
        std::clamp<std::int64_t>((std::int64_t{1} << 20) / (4 * std::max<std::int64_t>(1, dim)), 1,
                                 std::max<std::int64_t>(1, expected_rows));
    group_.create_extendible_floats("weights", dim, chunk_rows);
}

void ClassifierWriter::append(const float* rows, std::int64_t count) {
    check_finite_output(rows, count, dim_, rows_, group_.where("weights"));
    group_.append_rows("weights", rows, count);
    rows_ += count;
}

void ClassifierWriter::finish(const Classifier& classifier) {
    if (rows_ != static_cast<std::int64_t>(classifier.class_ids.size()))
        throw Error(fmt::format("internal error: {} rows written for {} class ids", rows_, classifier.class_ids.size()));
    write_classifier_details(group_, classifier);
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
    if (set.members.size() > 1) {
        std::vector<std::string> names;
        for (std::size_t m = 0; m < set.members.size(); ++m)
            names.push_back(fmt::format("{} member {}", in.file_name(), m));
        check_members_agree(set.members, names);
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

void check_members_agree(const std::vector<Classifier>& members, const std::vector<std::string>& names) {
    const Classifier& first = members.front();
    const ClassIndex first_ids(first.class_ids);
    for (std::size_t m = 1; m < members.size(); ++m) {
        const Classifier& member = members[m];
        if (member.weights.cols != first.weights.cols)
            fail(fmt::format("dimension mismatch: {} has dimension {}, {} has {}", names[m], member.weights.cols,
                             names.front(), first.weights.cols));
        if (!ClassIndex(member.class_ids).same_ids(first_ids))
            throw SchemaError(fmt::format("{} and {} have different class ids ({} and {} classes)", names.front(),
                                          names[m], first_ids.size(), member.class_ids.size()),
                              "ensemble members must cover the same classes");
        for (std::size_t c = 0; c < member.class_ids.size(); ++c) {
            const std::int64_t id = member.class_ids[c];
            const std::int64_t count = first.class_counts[static_cast<std::size_t>(first_ids.row(id))];
            if (member.class_counts[c] != count)
                throw SchemaError(
                    fmt::format("{} and {} give class {} different training counts ({} and {})", names.front(),
                                names[m], id, count, member.class_counts[c]),
                    "the members of an ensemble come from one training set, whose counts define the shot groups");
        }
    }
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
        // The header's checks (shapes, labels, /ids) as every features reader
        // makes them; the rows are not read: a histogram needs only the labels.
        for (auto label : read_features_header(in).labels)
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
