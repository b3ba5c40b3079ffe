// lt-protos: class prototypes (docs/method.md Eq. 3), p_i = mean over the samples
// of class i of the L2-normalised features, stored un-normalised with the
// number of rows averaged. Features are streamed in chunks, so memory does not
// grow with the number of samples.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

namespace lt::protos {

struct Options {
    std::string features;  // "-" = stdin
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

// One row per class present (labels >= 0), in increasing class id order.
Prototypes compute(const FeaturesReader& features);

void run(const Options& options);

}  // namespace lt::protos
