#include "lt/wordnet/wordnet.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/io/lists.hpp"

#include <fmt/format.h>
#include <wn.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>

namespace lt::wordnet {

namespace {

// The library prints its own messages ("no synset at location ...") through
// this hook; lt reports errors itself, once.
int silent(char*) { return 0; }

bool is_digits(const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// A class id of a table: digits, small enough for 64 bits.
bool parse_class_id(const std::string& text, std::int64_t* id) {
    if (!is_digits(text) || text.size() > 18) return false;
    *id = std::stoll(text);
    return true;
}

// The offsets of the synsets one hypernym or instance-hypernym link above.
std::vector<long> parents(long offset) {
    static char no_word[] = "";
    SynsetPtr synset = read_synset(NOUN, offset, no_word);
    if (synset == nullptr) throw Error(fmt::format("WordNet has no noun synset at offset {}", noun_id(offset)));
    std::vector<long> result;
    for (int i = 0; i < synset->ptrcount; ++i)
        if ((synset->ptrtyp[i] == HYPERPTR || synset->ptrtyp[i] == INSTANCE) && synset->ppos[i] == NOUN)
            result.push_back(synset->ptroff[i]);
    free_synset(synset);
    return result;
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream stream(line);
    while (std::getline(stream, field, '\t')) fields.push_back(field);
    if (!line.empty() && line.back() == '\t') fields.emplace_back();
    return fields;
}

std::string trim(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    std::size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    return text.substr(start);
}

// "n02084071" or "dog.n.01": a WordNet id by itself, not a name to map.
bool looks_like_synset(const std::string& name) {
    if (name.size() == 9 && name[0] == 'n' && is_digits(name.substr(1))) return true;
    auto dot = name.rfind(".n.");
    return dot != std::string::npos && dot > 0 && is_digits(name.substr(dot + 3));
}

}  // namespace

void open_database() {
    static bool open = false;
    if (open) return;
    display_message = silent;
    if (wninit() != 0)
        throw Error("cannot open the WordNet database",
                    "install wordnet-base, or set WNHOME/WNSEARCHDIR to the folder of data.noun");
    open = true;
}

std::string noun_id(long offset) { return fmt::format("n{:08d}", offset); }

long noun_offset(const std::string& name) {
    open_database();
    long offset = -1;
    std::string digits = name;
    if (!digits.empty() && digits[0] == 'n') digits = digits.substr(1);
    if (is_digits(digits) && digits.size() == 8) {
        offset = std::stol(digits);
        // read_synset checks that a synset starts at the offset.
        static char no_word[] = "";
        SynsetPtr synset = read_synset(NOUN, offset, no_word);
        if (synset == nullptr) throw Error(fmt::format("WordNet 3.0 has no noun synset {}", name));
        free_synset(synset);
        return offset;
    }
    auto dot = name.rfind(".n.");
    if (dot == std::string::npos || dot == 0 || !is_digits(name.substr(dot + 3)))
        throw Error(fmt::format("'{}' is not a WordNet noun id", name),
                    "use a noun offset like n02084071 or a name like dog.n.01");
    std::string lemma = name.substr(0, dot);
    for (char& c : lemma) c = (c == ' ') ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    int sense = std::stoi(name.substr(dot + 3));
    std::vector<char> buffer(lemma.begin(), lemma.end());
    buffer.push_back('\0');
    IndexPtr index = index_lookup(buffer.data(), NOUN);
    if (index == nullptr) throw Error(fmt::format("WordNet has no noun '{}'", name.substr(0, dot)));
    if (sense >= 1 && sense <= index->off_cnt) offset = static_cast<long>(index->offset[sense - 1]);
    int senses = index->off_cnt;
    free_index(index);
    if (offset < 0)
        throw Error(fmt::format("'{}': the noun has {} sense{} in WordNet", name, senses, senses == 1 ? "" : "s"));
    return offset;
}

std::map<long, int> ancestor_distances(long offset) {
    open_database();
    // Breadth first: the first visit of a synset is along a shortest path.
    std::map<long, int> distance{{offset, 0}};
    std::deque<long> queue{offset};
    while (!queue.empty()) {
        long current = queue.front();
        queue.pop_front();
        for (long parent : parents(current))
            if (distance.emplace(parent, distance[current] + 1).second) queue.push_back(parent);
    }
    return distance;
}

namespace {
int shortest_path(const std::map<long, int>& a, const std::map<long, int>& b) {
    int best = -1;
    for (const auto& [ancestor, up] : a) {
        auto other = b.find(ancestor);
        if (other != b.end() && (best < 0 || up + other->second < best)) best = up + other->second;
    }
    return best;
}
}  // namespace

int shortest_path(long a, long b) { return shortest_path(ancestor_distances(a), ancestor_distances(b)); }

double lch_from_path(int edges, int max_depth) {
    if (edges < 0) return std::numeric_limits<double>::quiet_NaN();
    return -std::log(static_cast<double>(edges + 1) / (2.0 * max_depth));
}

double lch(long a, long b, int max_depth) { return lch_from_path(shortest_path(a, b), max_depth); }

NameMap read_map(const std::string& path) {
    std::ifstream file = open_text_input(path, "map");
    NameMap map;
    std::map<std::string, std::size_t> first_line;
    std::string line;
    for (std::size_t number = 1; std::getline(file, line); ++number) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        auto space = line.find_first_of(" \t");
        if (space == std::string::npos)
            throw Error(fmt::format("{}:{}: expected '<wordnet id> <class name>'", path, number));
        const std::string name = trim(line.substr(space + 1)), id = line.substr(0, space);
        auto [known, added] = map.ids.emplace(name, id);
        if (added) {
            first_line[name] = number;
        } else if (known->second != id) {
            std::string& both = map.ambiguous[name];
            if (both.empty()) both = fmt::format("{} (line {})", known->second, first_line[name]);
            both += fmt::format(", {} (line {})", id, number);
        }
    }
    return map;
}

std::string NameMap::find(const std::string& name) const {
    if (auto both = ambiguous.find(name); both != ambiguous.end())
        throw Error(fmt::format("class name '{}' is ambiguous: the map gives it {}", name, both->second),
                    "name that class by its WordNet id in --class-names, or keep one of the map's lines");
    auto found = ids.find(name);
    return found == ids.end() ? std::string() : found->second;
}

void Options::add_to(CLI::App& app) {
    app.add_option("neighbours", input, "Neighbours table of lt-compat ('-' = stdin)")
        ->type_name("NEIGHBOURS.tsv")
        ->capture_default_str();
    app.add_option("--class-names", class_names, "classes.txt (one name or WordNet id per class id)")
        ->type_name("FILE");
    app.add_option("--map", map, "Class name to WordNet id map: '<wordnet id> <name>' per line")->type_name("FILE");
    app.add_option("--pair", pair, "Print the path and LCH similarity of two synsets instead")
        ->expected(2)
        ->type_name("A B");
    app.add_option("--class-ids", classes, "Keep only the rows of these query class ids")
        ->delimiter(',')
        ->type_name("ID,ID,...");
    cli::add_deprecated_alias(app, "--classes", "--class-ids", classes)->delimiter(',');
    app.add_option("--max-depth", max_depth, "Depth of the noun taxonomy in the LCH formula")
        ->check(cli::Positive)
        ->capture_default_str();
}

void run(const Options& options) {
    open_database();
    if (!options.pair.empty()) {
        long a = noun_offset(options.pair[0]), b = noun_offset(options.pair[1]);
        int path = shortest_path(a, b);
        std::string text = fmt::format("a\tb\tpath_edges\tlch\n{}\t{}\t{}\t{}\n", noun_id(a), noun_id(b), path,
                                       lch_from_path(path, options.max_depth));
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
    }

    std::vector<std::string> names;
    if (!options.class_names.empty()) names = read_classes(options.class_names);
    NameMap map;
    if (!options.map.empty()) map = read_map(options.map);

    std::ifstream file;
    if (options.input != "-")
        file = open_text_input(options.input, "input");
    else
        claim_standard_input("the input table");
    std::istream& input = options.input == "-" ? std::cin : file;
    const std::string source = options.input == "-" ? std::string("standard input") : options.input;

    std::string line;
    if (!std::getline(input, line)) throw Error(fmt::format("{} is empty", source));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::vector<std::string> header = split_tabs(line);
    auto column = [&](const std::string& name) -> int {
        for (std::size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return static_cast<int>(i);
        return -1;
    };
    const int class_column = column("class_id"), neighbour_column = column("neighbour_id");
    const int class_name_column = column("class_name"), neighbour_name_column = column("neighbour_name");
    if (class_column < 0 || neighbour_column < 0)
        throw Error(fmt::format("{}: no class_id and neighbour_id columns", source),
                    "give the output of lt-compat --neighbours N");
    if (names.empty() && class_name_column < 0)
        throw UsageError("the neighbours have no class names: give --class-names classes.txt");

    // Each synset's ancestors are read once.
    std::map<long, std::map<long, int>> ancestors;
    auto ancestors_of = [&](long offset) -> const std::map<long, int>& {
        auto found = ancestors.find(offset);
        if (found == ancestors.end()) found = ancestors.emplace(offset, ancestor_distances(offset)).first;
        return found->second;
    };
    std::set<std::string> unmapped;
    auto synset_of = [&](const std::string& name) -> long {
        if (looks_like_synset(name)) return noun_offset(name);
        if (const std::string id = map.find(name); !id.empty()) return noun_offset(id);
        unmapped.insert(name);
        return -1;
    };

    const std::set<std::int64_t> keep(options.classes.begin(), options.classes.end());
    std::set<std::int64_t> seen;
    std::string text = line + "\tclass_wnid\tneighbour_wnid\tlch\n";
    for (std::size_t number = 2; std::getline(input, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const std::vector<std::string> fields = split_tabs(line);
        if (fields.size() != header.size())
            throw Error(fmt::format("{}:{}: {} fields, the header has {}", source, number, fields.size(),
                                    header.size()));
        if (!keep.empty()) {
            std::int64_t id = -1;
            if (!parse_class_id(fields[class_column], &id) || !keep.count(id)) continue;
            seen.insert(id);
        }
        auto name_of = [&](int id_column, int name_column) {
            if (name_column >= 0 && fields[name_column] != "?") return fields[name_column];
            const std::string& id = fields[id_column];
            std::int64_t label = -1;
            if (!parse_class_id(id, &label))
                throw Error(fmt::format("{}:{}: class id '{}' is not a number of at most 18 digits", source, number,
                                        id));
            if (label >= static_cast<std::int64_t>(names.size()))
                throw Error(fmt::format("{}:{}: class id {} has no name{}", source, number, id,
                                        names.empty() ? "" : fmt::format(" in {}", options.class_names)));
            return names[static_cast<std::size_t>(label)];
        };
        long a = synset_of(name_of(class_column, class_name_column));
        long b = synset_of(name_of(neighbour_column, neighbour_name_column));
        std::string similarity = "nan";
        if (a >= 0 && b >= 0) {
            int path = shortest_path(ancestors_of(a), ancestors_of(b));
            similarity = fmt::format("{:.6f}", lch_from_path(path, options.max_depth));
        }
        text += fmt::format("{}\t{}\t{}\t{}\n", line, a >= 0 ? noun_id(a) : "NA", b >= 0 ? noun_id(b) : "NA",
                            similarity);
    }
    for (auto id : keep)
        if (!seen.count(id)) throw Error(fmt::format("--class-ids: class {} has no row in {}", id, source));
    if (!unmapped.empty()) {
        std::string list;
        std::size_t shown = 0;
        for (const auto& name : unmapped)
            if (++shown <= 5) list += (list.empty() ? "" : ", ") + name;
        if (unmapped.size() > 5) list += ", ...";
        log::warn("{} class name{} without a WordNet id (lch is nan): {}", unmapped.size(),
                  unmapped.size() == 1 ? "" : "s", list);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::wordnet
