// lt-compat: how well prototypes and classifier weights agree (docs/method.md §6,
// supplementary Table 3 and Figs. 3-4): the mismatch count, the sharpness
// curve and the attention neighbours of classes.
//
// Each works through the prototypes in blocks of B rows against all C
// classifier rows, so no [C x C] matrix is held: peak memory is about
// 4 (4 C D + B (D + C)) bytes. block_rows = 0: as many rows as 64 MiB of
// scores hold.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lt::compat {

struct Mismatch {
    std::int64_t class_id, closest_class_id;
};
struct MismatchReport {
    std::int64_t compared = 0;  // classes with both a prototype and a classifier row
    std::vector<Mismatch> mismatches;
};
// Classes whose prototype p^_i is not most cosine-similar to their own w^_i
// among all classifier rows (a tie with the own row counts as a match).
MismatchReport mismatches(const Classifier& classifier, const Prototypes& prototypes, std::int64_t block_rows = 0);

// Mean over prototypes of their cosine similarities to every classifier row,
// sorted in decreasing order: element r is rank r + 1.
std::vector<double> sharpness(const Classifier& classifier, const Prototypes& prototypes, std::int64_t block_rows = 0);

struct Neighbour {
    std::int64_t class_id, rank, neighbour_id;
    double score;  // attention weight alpha_ij, p->w, k = 0
};
// Classifier classes with a training sample (n > 0): the attention sources
// at k = 0, so the most neighbours a class can have.
std::int64_t source_count(const Classifier& classifier);

// The `count` classes with the highest attention weight for each class that
// has a prototype (or only for `only_class`), ranked by cosine (the order of
// the weights; ties, e.g. tau = 0 or equal rows, go to the smaller class id).
std::vector<Neighbour> neighbours(const Classifier& classifier, const Prototypes& prototypes, std::int64_t count,
                                  double tau, std::optional<std::int64_t> only_class = std::nullopt,
                                  std::int64_t block_rows = 0);

struct Options {
    std::string classifier, protos, class_names;
    bool mismatch = false, sharpness = false;
    std::int64_t neighbours = 0;
    std::optional<std::int64_t> class_id;
    double tau = 10.0;
    std::int64_t block_rows = 0;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::compat
