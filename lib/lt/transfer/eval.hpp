// lt-eval: accuracy of classifiers on a features file, per shot group
// (docs/method.md "Setting"): many (n > many), medium, few (n < few) are the means
// of per-class accuracies over the group's classes present in the test set;
// total is top-1 over all test samples. Features are read once, in chunks,
// and every classifier is evaluated on each chunk.
#pragma once

#include "lt/base/groups.hpp"
#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lt::eval {

struct Settings {
    GroupThresholds groups;
    bool within_group = false;  // candidates restricted to the sample's group (paper Table 5)
    std::string device = "cpu";
    // Training counts that define the groups; default: each classifier's class_counts.
    std::optional<std::map<std::int64_t, std::int64_t>> counts;
    std::string counts_source;  // file name, for messages
};

struct Result {
    std::string name;
    double many = 0, medium = 0, few = 0;  // percent; NaN when the group has no test class
    double total = 0, class_mean = 0, top5 = 0;
    std::int64_t samples = 0;
    std::int64_t classes[3] = {0, 0, 0};  // test classes per group
};

// predictions, when given, receives one vector of predicted class ids (-1
// for unlabelled rows) per classifier set.
std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, std::vector<std::vector<std::int64_t>>* predictions = nullptr);

// table | tsv | csv | markdown | json
std::string format_results(const std::vector<Result>& results, const std::string& format);

struct Options {
    std::string features, counts, format = "table", names, predictions;
    std::vector<std::string> classifiers;
    Settings settings;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::eval
