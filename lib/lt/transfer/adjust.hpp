// lt-adjust: training-free rebalancing of a trained classifier.
//
//   tau-normalisation (Kang et al., "Decoupling representation and
//   classifier"): scores x . w_j / |w_j|^P, bias dropped. A linear
//   classifier gets rows w_j / |w_j|^P. A cosine classifier, whose logits are
//   s x^ . w_j / |w_j|, gets class scales g_j = |w_j|^(1-P) (P = 1 leaves it
//   as it was, P = 0 scores by the raw rows).
//   logit adjustment (Menon et al., "Long-tail learning via logit
//   adjustment"): logits - T log pi_j, pi the class prior (the training
//   counts, normalised, or a prior file); written as a per-class bias.
//
// Both write classifier files (version 2 for cosine classifiers: class
// scales and bias, man/lt-h5.5) that lt-eval, lt-ensemble and lt-compat read.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lt::adjust {

Classifier tau_normalize(const Classifier& classifier, double p);

// prior: class id -> weight (any positive scale; normalised here), for every
// class of the classifier.
Classifier logit_adjust(const Classifier& classifier, double t, const std::map<std::int64_t, double>& prior);
// The classifier's training counts as a prior.
std::map<std::int64_t, double> prior_of_counts(const Classifier& classifier);
// A prior file: any lt-h5 file with class counts (prototypes, classifier,
// model, features), or text lines "CLASS_ID WEIGHT" ('#' starts a comment).
std::map<std::int64_t, double> read_prior(const std::string& path);

struct Options {
    std::string classifier, tau_norm, logit_adjust, prior;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

void run(const Options& options);

}  // namespace lt::adjust
