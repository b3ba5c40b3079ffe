// lt-wordnet: WordNet similarity of classes (supplementary Fig. 3), with
// Debian's WordNet 3.0 library (wordnet-dev, wn.h).
//
// Leacock-Chodorow similarity, NLTK's convention:
//   LCH(a, b) = -log( (d + 1) / (2 * D) )
// d = shortest path between the two noun synsets in edges, through a common
// ancestor, following hypernym and instance-hypernym links; d + 1 counts the
// path in nodes; D = the maximum depth of the noun taxonomy (19 in WordNet 3.0).
// dog.n.01 vs cat.n.01: dog > canine > carnivore < feline < cat, d = 4,
// LCH = -log(5/38) = 2.0281...
//
// Synsets are named by their noun offset ("n02084071", ImageNet's class ids)
// or NLTK-style ("dog.n.01": lemma, pos n, sense number).
#pragma once

#include "lt/cli/cli.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lt::wordnet {

constexpr int kNounMaxDepth = 19;  // WordNet 3.0 nouns (NLTK's _max_depth)

// Opens the WordNet database (once); throws lt::Error when it cannot.
void open_database();

// The noun offset of "n02084071", "02084071" or "dog.n.01"; throws lt::Error
// for a malformed name or a synset WordNet does not have.
long noun_offset(const std::string& name);

// "n%08ld"
std::string noun_id(long offset);

// Minimal number of edges from the synset up to each of its ancestors
// (itself at 0), through hypernym and instance-hypernym links.
std::map<long, int> ancestor_distances(long offset);

// Shortest path in edges between two noun synsets through a common
// ancestor; -1 when they share none.
int shortest_path(long a, long b);

// -log((edges + 1) / (2 * max_depth)).
double lch_from_path(int edges, int max_depth = kNounMaxDepth);

// LCH of two noun synsets; NaN when they have no common ancestor.
double lch(long a, long b, int max_depth = kNounMaxDepth);

// A class-name map file: one class a line, "<wordnet id> <class name>"
// (the name is the rest of the line, as in ImageNet's synset mapping files);
// '#' starts a comment line. A name listed with two different ids (ImageNet's
// map has two "crane"s) is ambiguous: looking it up is an error.
struct NameMap {
    std::map<std::string, std::string> ids;        // name -> WordNet id
    std::map<std::string, std::string> ambiguous;  // name -> "id (line N), id (line M)"
    // The id of name; "" when the map does not list it; Error when ambiguous.
    std::string find(const std::string& name) const;
};
NameMap read_map(const std::string& path);

struct Options {
    std::string input = "-";     // neighbours TSV of lt-compat --neighbours
    std::string class_names;     // classes.txt
    std::string map;             // name -> WordNet id map
    std::vector<std::string> pair;  // --pair A B
    std::vector<std::int64_t> classes;  // keep only these query classes
    int max_depth = kNounMaxDepth;
    void add_to(CLI::App& app);
};

// Adds class_wnid, neighbour_wnid and lch columns to a neighbours TSV, or
// prints the similarity of one pair.
void run(const Options& options);

}  // namespace lt::wordnet
