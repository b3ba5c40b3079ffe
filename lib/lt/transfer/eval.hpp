// lt-eval: accuracy of classifiers on a features file, per shot group
// (docs/method.md "Setting"): many (n > many), medium, few (n < few) are the means
// of per-class accuracies over the group's classes present in the test set;
// total is top-1 over all test samples.
//
// One pass: the features are read once, in blocks of rows, each block is
// normalised once, and every classifier scores it; each sample's best
// columns and its label's rank among them come from one selection
// (lt/math/scorer.hpp) and go to a Visitor, which the accuracies (and any
// other per-sample report) are built on. No [samples x classes] matrix is
// held: peak memory is about 4 (2.5 C D + B (D + C)) bytes per classifier for
// blocks of B rows (2 B C for an ensemble).
#pragma once

#include "lt/base/groups.hpp"
#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"
#include "lt/math/scorer.hpp"

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
    std::int64_t block_rows = 0;  // feature rows per block; 0: as many as 64 MiB of scores hold
    int top_k = 5;                // best columns of each sample (top-1 and top-5 need 5; 1 is enough for top-1)
    math::Screen screen = math::Screen::automatic;  // the bfloat16 screen of single cosine classifiers
};

// One sample as scored by one classifier set.
struct Sample {
    std::int64_t row = 0;           // in the features file
    std::int64_t label = -1;        // -1: unlabelled
    std::int64_t label_column = -1;  // the label's column in the set; -1 when it has none
    const std::int64_t* top = nullptr;  // the best top_count columns, best first, ties to the lower
                                        // column; -1 past the candidate columns
    const double* top_scores = nullptr;
    int top_count = 0;
    int label_rank = 0;  // position of label_column among top; top_count when it is not there
};

// Receives the per-sample pass: start() once with the columns of every set
// (column -> class id), then visit() for every sample and set, rows in
// increasing order.
class Visitor {
public:
    virtual ~Visitor() = default;
    virtual void start(const std::vector<ClassIndex>& columns) {}
    virtual void visit(std::size_t set, const Sample& sample) = 0;
};

// The per-sample pass over the features with every classifier set.
void score(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers, const Settings& settings,
           Visitor& visitor);

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
