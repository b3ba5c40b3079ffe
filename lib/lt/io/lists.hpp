// OLTR-style list files, as released with ImageNet-LT, Places-LT and
// iNaturalist: one image a line, "<relative path> <integer label>", e.g.
//   train/n01440764/n01440764_190.JPEG 0
// The label is the last whitespace-separated field, so paths may contain
// spaces. CRLF line ends, blank lines and '#' comment lines are accepted. A
// line with only a path has an unknown label (-1): valid where labels are
// optional (extraction, checks), an error where they are needed (training,
// subsampling). classes.txt holds one class name (or WordNet id) per label,
// line i naming label i. docs/format.md has the rules.
#pragma once

#include <cstdint>
#include <fstream>
#include <istream>
#include <string>
#include <utility>
#include <vector>

namespace lt {

inline constexpr std::int64_t kUnknownLabel = -1;

// Opens a text file that the run reads (what names it in the error:
// "cannot read WHAT 'PATH': reason") and registers it as an input, so that
// no output of the run replaces it.
std::ifstream open_text_input(const std::string& path, const char* what);

struct ListEntry {
    std::string path;        // relative to the image root
    std::int64_t label = 0;  // global class id, >= 0; kUnknownLabel for a path-only line
    std::size_t line = 0;    // 1-based line in the list file (0: not from a file)
};

// Whether a line may hold a path only (its label is then unknown, -1).
enum class Labels { required, optional };

// Reads a list file ("-" = standard input). Throws lt::Error naming the file
// and line for a non-integer or negative label, for a path-only line when
// labels are required, and for a list with no entries.
std::vector<ListEntry> read_list(const std::string& path, Labels labels = Labels::required);

// The same on a stream; name is used in messages.
std::vector<ListEntry> parse_list(std::istream& input, const std::string& name, Labels labels = Labels::required);

// The entries whose path names the image of an earlier entry ("./a.png"
// and "a//a.png" name "a.png"): pairs of (line, the first line naming it),
// in list order.
std::vector<std::pair<std::size_t, std::size_t>> repeated_images(const std::vector<ListEntry>& entries);

// "<path> <label>\n" per entry ("<path>\n" for an unknown label).
std::string format_list(const std::vector<ListEntry>& entries);

// Writes a list file atomically ("-" = standard output).
void write_list(const std::string& path, const std::vector<ListEntry>& entries);

// Reads classes.txt: one name per line (CRLF accepted, trailing blank lines
// ignored). A blank line before the last name is an error: it would shift
// every later label.
std::vector<std::string> read_classes(const std::string& path);

// The text of classes.txt, one name per line; path only names it in the
// error for an empty name or one with a line break.
std::string format_classes(const std::vector<std::string>& names, const std::string& path);

// Writes classes.txt atomically.
void write_classes(const std::string& path, const std::vector<std::string>& names);

// Images per class: element i counts label i; size = largest label + 1, so
// classes absent from the list count 0. Unlabelled entries are not counted.
std::vector<std::int64_t> class_counts(const std::vector<ListEntry>& entries);

// Entry indices of each class, in list order: element i lists label i's
// (unlabelled entries are in none).
std::vector<std::vector<std::size_t>> indices_by_class(const std::vector<ListEntry>& entries);

}  // namespace lt
