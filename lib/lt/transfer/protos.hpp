// lt-protos: class prototypes (docs/method.md Eq. 3), p_i = mean over the samples
// of class i of the L2-normalised features, stored un-normalised with the
// number of rows averaged. Features are streamed in chunks, so memory does not
// grow with the number of samples.
//
// Prototypes can be built in parts: over several features files at once (one
// pass each), or by merging prototype files weighted by their counts,
//   p_i = sum_f n_fi p_fi / sum_f n_fi,
// which equals computing them from all the features together (up to the
// float32 rounding of the stored parts). New classes therefore need only the
// features of their own images.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <map>
#include <string>
#include <vector>

namespace lt::protos {

struct Options {
    std::vector<std::string> inputs;  // features files, or prototypes files with --merge; one may be "-"
    bool merge = false;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

// Per-class sums of unit vectors, in double, over any number of sources.
class Accumulator {
public:
    // One pass over the rows; label -1 is skipped.
    void add_features(const FeaturesReader& features);
    // n_i p_i per class.
    void add_prototypes(const Prototypes& prototypes, const std::string& source);
    // One row per class seen, in increasing class id order. Throws when no
    // source had a labelled row.
    Prototypes result() const;

private:
    void check_dim(std::int64_t dim, const std::string& source);
    std::int64_t dim_ = 0;
    std::string first_source_;
    std::vector<std::string> sources_;
    std::map<std::int64_t, std::vector<double>> sums_;
    std::map<std::int64_t, std::int64_t> counts_;
};

// One row per class present (labels >= 0), in increasing class id order.
Prototypes compute(const FeaturesReader& features);

void run(const Options& options);

}  // namespace lt::protos
