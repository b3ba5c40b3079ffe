// lt-project: a 2-D view of knowledge transfer (supplementary Fig. 1).
// A few-shot class and its top attention neighbours (p->w, k = 0): their
// samples (validation features), prototypes, learned classifier rows and
// final (composed) classifier rows, all as unit vectors, projected on the
// two first principal components of those points. Written as TSV for
// gnuplot (share/plots/projection.gp). The features are streamed in blocks
// and only the rows shown are kept: peak memory is about 4 (4 C D + B D)
// bytes besides the few hundred points.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lt::project {

struct Point {
    std::string kind;        // sample | prototype | classifier | final
    int slot = 0;            // 0 = the chosen class, 1.. its neighbours by rank
    std::int64_t class_id = 0;
    double x = 0, y = 0;
};

struct View {
    std::vector<std::int64_t> classes;  // the chosen class, then its neighbours
    std::vector<std::int64_t> counts;   // their training counts
    double explained[2] = {0, 0};       // fraction of variance of each component
    std::vector<Point> points;
};

struct Settings {
    std::optional<std::int64_t> class_id;  // default: a seeded random few-shot class
    std::int64_t neighbours = 2;
    std::int64_t few = 20;                  // few-shot: fewer training samples than this
    std::int64_t max_samples = 200;         // per class, seeded subsample beyond
    double tau = 10.0;
    std::uint64_t seed = 0;
    std::int64_t k = 20;           // of the final classifier w^h(k) built when none is given
    std::int64_t block_rows = 0;   // feature rows read at a time; 0: about 32 MiB of them
};

// The class the view is centred on: settings.class_id, or a seeded random
// choice among the few-shot classes that have samples (the rarest class
// when none is few-shot).
std::int64_t choose_class(const Classifier& classifier, const std::vector<std::int64_t>& sample_labels,
                          const Settings& settings);

// Rows are unit vectors; the samples are rows of `features`. Without a
// final classifier, w^h(settings.k) is composed for the classes shown.
View compute(const FeaturesReader& features, const Classifier& classifier, const Prototypes& prototypes,
             const Classifier* final_classifier, const Settings& settings);

// Projection of centred rows on their two first principal components (SVD,
// signs fixed so that each component's largest loading is positive).
// Returns [N, 2] row-major and the explained variance fractions.
std::vector<double> pca2(const Matrix& rows, double explained[2]);

struct Options {
    std::string features, classifier, protos, final_classifier, class_names;
    Settings settings;
    cli::SeedOption seed;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::project
