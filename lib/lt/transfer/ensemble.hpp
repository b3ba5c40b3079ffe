// lt-ensemble: an ensemble of classifiers (docs/method.md Eq. 8), used as the mean
// of the members' softmax probabilities. Members must describe the same
// classes in the same feature space; nested ensembles are flattened, so every
// leaf classifier weighs the same.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <string>
#include <vector>

namespace lt::ensemble {

struct Options {
    std::vector<std::string> members;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

// Flattens and checks (same class id set, same dimension) the members.
std::vector<Classifier> combine(std::vector<ClassifierSet> sets);

void run(const Options& options);

}  // namespace lt::ensemble
