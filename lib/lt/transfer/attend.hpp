// lt-attend: compositional knowledge transfer (docs/method.md Eq. 4-7, 9).
// For every class i, attention from a query (its prototype p^_i for p2w/p2p,
// its classifier w^_i for w2p/w2w) over the source classes S(k) = {j : n_j > k}
// gives w^kt_i = sum_j alpha_ij v^_j; the output row is the sum of the chosen
// unit vectors among normalize(w^kt_i), p^_i and w^_i. No training happens.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <string>
#include <vector>

namespace lt::attend {

struct Settings {
    std::int64_t k = 0;
    double tau = 10.0;
    std::string mode = "p2w";                          // p2w | w2p | w2w | p2p
    std::vector<std::string> terms = {"kt", "p", "w"};  // non-empty subset, in this order
};

// Parses "kt,p,w" (any order, no repeats) into the canonical order kt, p, w.
std::vector<std::string> parse_terms(const std::string& text);

// Composes a cosine classifier with one row per class of the classifier or
// the prototypes, in increasing class id order. Classes that have only a
// prototype (new classes) get rows when no term needs w.
Classifier compose(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   const std::string& device = "cpu");

// The attention weights alpha [queries x sources] (double precision) and the
// source class ids, for analyses (lt-compat --neighbours).
struct Attention {
    std::vector<std::int64_t> query_ids, source_ids;
    std::vector<double> weights;  // row-major [query_ids.size(), source_ids.size()]
};
Attention attention(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings);

struct Options {
    std::string classifier, protos, terms = "kt,p,w";
    bool continual = false;
    Settings settings;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::attend
