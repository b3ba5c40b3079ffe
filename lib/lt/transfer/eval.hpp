// lt-eval: accuracy of classifiers on a features file, per shot group
// (docs/method.md "Setting"): many (n > many), medium, few (n < few) are the means
// of per-class accuracies over the group's classes present in the test set;
// total is top-1 over all test samples. A test class that a classifier has
// no row for counts with accuracy 0: in its group when its training count is
// known, in "ungrouped" otherwise, so the groups and the total always cover
// the same samples.
//
// One pass: the features are read once, in blocks of rows, each block is
// normalised once, and every classifier scores it; each sample's best
// columns and its label's rank among them come from one selection
// (lt/math/scorer.hpp) and go to a Visitor, which the accuracies (and any
// other per-sample report) are built on. No [samples x classes] matrix is
// held: peak memory is about 4 (2.5 C D + B (D + C)) bytes per classifier for
// blocks of B rows (2 B C for an ensemble). The per-class counts are O(C);
// what is asked besides is held whole: predictions M N, the top-k 12 M N K
// bytes, confusion counts 8 C^2 per classifier (refused beyond a bound).
#pragma once

#include "lt/base/groups.hpp"
#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"
#include "lt/math/scorer.hpp"
#include "lt/transfer/attend.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lt::eval {

// Groups a user defines by class ids (--groups), reported beside the shot groups.
struct CustomGroups {
    std::vector<std::string> names;
    std::map<std::int64_t, std::vector<int>> of_class;  // class id -> indices into names
};

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
    // Sample::top_probabilities: softmax probabilities of the best columns
    // (single classifiers are then scored in float32: the normaliser needs
    // every score).
    bool probabilities = false;
    CustomGroups custom;  // --groups, beside many / medium / few
    // The composed classifiers of a sweep, scored without composing them
    // (--attend): the last classifiers().size() sets are its values,
    // described by its classifiers().
    attend::SweepScorer* sweep = nullptr;
};

// One sample as scored by one classifier set.
struct Sample {
    std::int64_t row = 0;           // in the features file
    std::int64_t label = -1;        // -1: unlabelled
    std::int64_t label_column = -1;  // the label's column in the set; -1 when it has none
    const std::int64_t* top = nullptr;  // the best top_count columns, best first, ties to the lower
                                        // column; -1 past the candidate columns
    const double* top_scores = nullptr;
    const double* top_probabilities = nullptr;  // with Settings::probabilities
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

// One test class as one classifier set scored it.
struct ClassResult {
    std::int64_t id = 0;
    std::int64_t samples = 0, correct = 0, top5 = 0;
    std::int64_t train_count = -1;  // -1: unknown (no --counts, no row)
    bool has_row = true;
    double accuracy() const { return 100.0 * static_cast<double>(correct) / static_cast<double>(samples); }
};

struct Result {
    std::string name;
    double many = 0, medium = 0, few = 0;  // percent; NaN when the group has no test class
    double total = 0, class_mean = 0, top5 = 0;
    // Test classes with no training count (the set has no row for them and
    // no --counts): accuracy 0, NaN when there are none.
    double ungrouped = 0;
    std::int64_t samples = 0;
    std::int64_t classes[3] = {0, 0, 0};  // test classes per group
    std::int64_t ungrouped_classes = 0;
    std::vector<double> custom;                 // per Settings::custom group; NaN when no test class
    std::vector<std::int64_t> custom_classes;   // test classes per custom group
    std::vector<ClassResult> per_class;         // by class id
    std::vector<std::int64_t> missing_ids;      // test classes without a row
    std::int64_t missing_samples = 0;
};

// Confusion counts of one set: [C, C], row the true class, column the
// predicted one, C = the test classes and the set's classes (increasing ids).
struct Confusion {
    std::vector<std::int64_t> class_ids;
    std::vector<std::int64_t> counts;
};

// What the pass collects besides the accuracies, on request.
struct Outputs {
    bool predictions = false;
    int top_k = 0;  // > 0: the K best classes of every sample and their probabilities
    bool confusion = false;
    std::vector<std::vector<std::int64_t>> predicted;    // per set: N class ids (-1: none)
    std::vector<std::vector<std::int64_t>> top_ids;      // per set: N x K class ids (-1: none)
    std::vector<std::vector<float>> top_probabilities;  // per set: N x K (NaN: none)
    std::vector<Confusion> confusions;                   // per set
};

// Bytes of the confusion counts of every set.
std::int64_t confusion_bytes(const std::vector<std::int64_t>& labels, const std::vector<ClassifierSet>& classifiers);

// Results of the labelled rows (none when every label is -1), and outputs.
std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, Outputs* outputs);
// predictions, when given, receives one vector of predicted class ids (-1
// for unlabelled rows) per classifier set.
std::vector<Result> evaluate(const FeaturesReader& features, const std::vector<ClassifierSet>& classifiers,
                             const Settings& settings, std::vector<std::vector<std::int64_t>>* predictions = nullptr);

struct FormatOptions {
    bool top5 = false;                     // a top5 column (json always has it)
    std::vector<std::string> custom_names;  // the --groups columns
};
// table | tsv | csv | markdown | json
std::string format_results(const std::vector<Result>& results, const std::string& format,
                           const FormatOptions& options = {});

// --per-class: class_id, name, train_count, group, test_count, then one
// accuracy column per set. names: class names by id (may be empty).
std::string format_per_class(const std::vector<Result>& results, const Settings& settings,
                             const std::vector<std::string>& class_names);

// The one warning of a set with test classes it has no row for (empty when none).
std::string missing_rows_warning(const Result& result, bool counts_known);

// --groups FILE: "<class id> <group name>" per line ('#' comments and blank
// lines skipped); a class may be in several groups.
CustomGroups read_custom_groups(const std::string& path);

struct Options {
    std::string features, counts, format = "table", names, predictions, per_class, confusion, groups, class_names;
    std::vector<std::string> classifiers;
    // --attend CLF --protos P: also the classifiers lt-attend would compose, scored without composing them
    std::string attend, protos;
    attend::SweepOptions values;
    int top_k = 0;
    bool top5 = false;
    double confusion_max_gib = 4;
    Settings settings;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::eval
