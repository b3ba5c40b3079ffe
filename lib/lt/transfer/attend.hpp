// lt-attend: compositional knowledge transfer (docs/method.md Eq. 4-7, 9).
// For every class i, attention from a query (its prototype p^_i for p2w/p2p,
// its classifier w^_i for w2p/w2w) over the source classes S(k) = {j : n_j > k}
// gives w^kt_i = sum_j alpha_ij v^_j; the output row is the sum of the chosen
// unit vectors among normalize(w^kt_i), p^_i and w^_i. No training happens.
//
// Computed in blocks of query rows, so that no [classes x sources] matrix is
// ever whole: peak memory is about 4 (4 C D + B (2 S + 3 D)) bytes for C
// classes, S sources, D dimensions and blocks of B rows, and every output is
// written block by block. A sweep (several k and tau) computes the
// similarities of a block once: sources are ordered by count, most first, so
// every S(k) is a prefix of the same scores.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"
#include "lt/math/backend.hpp"

#include <functional>
#include <string>
#include <vector>

namespace lt::attend {

struct Settings {
    std::int64_t k = 0;
    double tau = 10.0;
    std::string mode = "p2w";                          // p2w | w2p | w2w | p2p
    std::vector<std::string> terms = {"kt", "p", "w"};  // non-empty subset, in this order
};

// Several composed classifiers from one pass: one per (k, tau) pair, k
// varying slowest.
struct Sweep {
    std::vector<std::int64_t> ks = {0};
    std::vector<double> taus = {10.0};
    std::string mode = "p2w";
    std::vector<std::string> terms = {"kt", "p", "w"};
    std::int64_t block_rows = 0;  // query rows per block; 0: as many as 64 MiB of scores hold
    std::size_t size() const { return ks.size() * taus.size(); }
    Settings at(std::size_t value) const;
};

// Parses "kt,p,w" (any order, no repeats) into the canonical order kt, p, w.
std::vector<std::string> parse_terms(const std::string& text);
// Parses the values of -k and --tau: "0,5,10" (no repeats).
std::vector<std::int64_t> parse_ks(const std::string& text);
std::vector<double> parse_taus(const std::string& text);

// The rows of the composed classifiers of a sweep, block by block: sink(v,
// first, rows, values) receives rows [first, first + rows) of the v-th
// classifier (row-major, D floats a row). Rows are the classes of either
// input in increasing class id, or only the classes `only` (in that order).
// Returns the classifiers without their weights (class ids, counts, scale,
// composition).
using RowSink =
    std::function<void(std::size_t value, std::int64_t first, std::int64_t rows, const float* values)>;
// With the kt term, kt_norms (when given) receives the same rows' |sum_j
// e_ij v^_j| (the transferred rows before they are normalised, with the
// weights e_ij unnormalised as the sweep computes them).
using NormSink =
    std::function<void(std::size_t value, std::int64_t first, std::int64_t rows, const double* norms)>;
std::vector<Classifier> compose_sweep(const Classifier& classifier, const Prototypes& prototypes, const Sweep& sweep,
                                      const math::Backend& backend, const RowSink& sink,
                                      const std::vector<std::int64_t>* only = nullptr,
                                      const NormSink* kt_norms = nullptr);

// The cosines of feature rows with every composed classifier of a sweep,
// without composing them (lt-eval --attend). For a unit row x, with
// r_i = u_i/|u_i| + p^_i + w^_i (the chosen terms) and u_i = sum over S(k)
// of e_ij v^_j,
//   x . r_i / |r_i| = (x . u_i / |u_i| + x . p^_i + x . w^_i) / |r_i|,
// and x . u_i = sum_j e_ij (x . v^_j) is a running sum over the sources
// between consecutive S(k), as compose_sweep sums them. Per block of B rows
// that is one B x S x D product with the sources, B x C x D for each of the
// p and w terms and B x S x C per tau, where scoring the composed
// classifiers takes B x C x D per value. Holds the C x S weights e_ij of
// every tau (so a sweep over C classes and S sources needs 4 C S bytes per
// tau) and 2 V C scale factors; taus up to 30 (beyond, the unnormalised
// weights could underflow: compose the classifiers with lt-attend -o).
// The scores agree with those of the composed rows to float32 rounding.
class SweepScorer {
public:
    SweepScorer(const Classifier& classifier, const Prototypes& prototypes, const Sweep& sweep,
                const math::Backend& backend);
    ~SweepScorer();
    SweepScorer(const SweepScorer&) = delete;
    SweepScorer& operator=(const SweepScorer&) = delete;

    // One per value (k slowest), as compose_sweep describes them: class
    // ids, counts, scale, composition; no weights.
    const std::vector<Classifier>& classifiers() const;
    std::int64_t dim() const;
    // unit: rows x dim() feature rows at unit length. visit(v, scores) is
    // called once per value, in no particular order, with the rows x C
    // cosines of value v (C = classifiers()[v].class_ids.size()), which it
    // may overwrite.
    void score(const float* unit, std::int64_t rows, const std::function<void(std::size_t, float*)>& visit);

private:
    struct State;
    std::unique_ptr<State> state_;
};

// Composes a cosine classifier with one row per class of the classifier or
// the prototypes, in increasing class id order. Classes that have only a
// prototype (new classes) get rows when no term needs w.
Classifier compose(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   const math::Backend& backend = math::cpu_backend());
// The same rows for some classes only, in the order given.
Classifier compose_rows(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                        const std::vector<std::int64_t>& class_ids,
                        const math::Backend& backend = math::cpu_backend());

// The `count` sources of highest attention weight alpha_ij of a query class
// (ties to the lower class id), for analyses (lt-compat --neighbours).
struct Neighbours {
    std::int64_t query_id = 0;
    std::vector<std::int64_t> source_ids;
    std::vector<double> weights;
};
// For every class that has a query vector, in increasing class id, or for
// the classes `only`; block_rows as in Sweep.
void top_attention(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   std::int64_t count, const std::function<void(const Neighbours&)>& visit,
                   const std::vector<std::int64_t>* only = nullptr, std::int64_t block_rows = 0);

// The options that define a sweep's classifiers (-k, --tau, --mode, --terms,
// --continual), shared by lt-attend and lt-eval --attend.
struct SweepOptions {
    std::string terms = "kt,p,w", ks = "0", taus = "10", mode = "p2w";
    bool continual = false;
    // Registers the options; returns them (for CLI11's needs()).
    std::vector<CLI::Option*> add_to(CLI::App& app);
    Sweep sweep(std::int64_t block_rows) const;  // parsed and checked
};

struct Options {
    std::string classifier, protos;
    SweepOptions values;
    std::int64_t block_rows = 0;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

// What a composition reads: one classifier (of a classifier or model file;
// its per-class scales and bias, which have no place in the attention over
// the rows' directions, are dropped with a warning) and the prototypes.
// reader names the caller in messages.
struct Inputs {
    Classifier classifier;
    Prototypes prototypes;
};
Inputs read_inputs(const std::string& classifier, const std::string& protos, const std::string& reader);

// The output path of one value of a sweep: {k} and {tau} replaced.
std::string output_path(const std::string& pattern, std::int64_t k, double tau);

void run(const Options& options, const Compute& compute);

}  // namespace lt::attend
