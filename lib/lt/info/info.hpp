// lt-info: what an lt-h5 file holds. The type and schema version, the
// shapes and storage of its datasets, the class-count summary (min, median,
// max, shot-group sizes), a classifier's kind, scale and composition (mode,
// k, tau, terms), an ensemble's members, the other root attributes and the
// provenance. Printed as indented text, or as one JSON object per file.
// Reading is what the tools do, so a file lt-info describes is one they
// accept; features are not scanned row by row (files may be large).
#pragma once

#include "lt/base/groups.hpp"
#include "lt/cli/cli.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lt::info {

// A small ordered document: null, bool, integer, number, string, array or
// object (keys in insertion order). Rendered as JSON or as indented text.
class Value {
public:
    enum class Kind { null, boolean, integer, number, string, array, object };

    Value() = default;
    Value(bool value) : kind_(Kind::boolean), integer_(value) {}
    Value(int value) : kind_(Kind::integer), integer_(value) {}
    Value(std::int64_t value) : kind_(Kind::integer), integer_(value) {}
    Value(double value) : kind_(Kind::number), number_(value) {}
    Value(std::string value) : kind_(Kind::string), text_(std::move(value)) {}
    Value(const char* value) : kind_(Kind::string), text_(value) {}
    static Value array();
    static Value object();

    Kind kind() const { return kind_; }
    Value& add(std::string key, Value value);  // object: appends a member; returns it
    Value& push(Value value);                  // array: appends an element; returns it
    const Value* find(const std::string& key) const;  // object member, or nullptr
    std::size_t size() const { return items_.size(); }

    std::string json() const;  // one line
    std::string text(int indent = 0) const;  // indented "key: value" lines

private:
    bool is_scalar() const { return kind_ != Kind::array && kind_ != Kind::object; }
    std::string scalar_text(bool quoted) const;

    Kind kind_ = Kind::null;
    std::int64_t integer_ = 0;
    double number_ = 0;
    std::string text_;
    std::vector<std::string> keys_;  // objects: one per item
    std::vector<Value> items_;
};

// Summary of per-class sample counts: classes, samples, min / median / max
// (the median of an even number of classes is the mean of the middle two)
// and the shot groups (lt/base/groups.hpp).
Value count_summary(const std::vector<std::int64_t>& counts, const GroupThresholds& thresholds);

// The description of one file ("-" = standard input). Throws lt::Error for
// a file that is not lt-h5, or that the tools would refuse.
Value describe(const std::string& path, const GroupThresholds& thresholds);

// "class_id<TAB>count" lines (with a header) of a file with class counts:
// training counts of classifier-like files, the label histogram of features.
std::string class_counts_tsv(const std::string& path);

struct Options {
    std::vector<std::string> files;
    bool json = false;
    bool class_counts = false;
    GroupThresholds thresholds;
    void add_to(CLI::App& app);
};

// Describes every file; a file that fails gets one error line on stderr and
// the others are still described. Exit status 1 when any failed.
void run(const Options& options);

}  // namespace lt::info
