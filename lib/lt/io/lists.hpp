// OLTR-style list files, as released with ImageNet-LT, Places-LT and
// iNaturalist: one image a line, "<relative path> <integer label>", e.g.
//   train/n01440764/n01440764_190.JPEG 0
// The label is the last whitespace-separated field, so paths may contain
// spaces. CRLF line ends and blank lines are accepted. classes.txt holds one
// class name (or WordNet id) per label, line i naming label i.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace lt {

struct ListEntry {
    std::string path;        // relative to the image root
    std::int64_t label = 0;  // global class id, >= 0
    std::size_t line = 0;    // 1-based line in the list file (0: not from a file)
};

// Reads a list file ("-" = standard input). Throws lt::Error naming the file
// and line for a missing or non-integer label or a negative label, and for
// a list with no entries.
std::vector<ListEntry> read_list(const std::string& path);

// The same on a stream; name is used in messages.
std::vector<ListEntry> parse_list(std::istream& input, const std::string& name);

// "<path> <label>\n" per entry.
std::string format_list(const std::vector<ListEntry>& entries);

// Writes a list file atomically ("-" = standard output).
void write_list(const std::string& path, const std::vector<ListEntry>& entries);

// Reads classes.txt: one name per line (CRLF accepted, trailing blank lines
// ignored). A blank line before the last name is an error: it would shift
// every later label.
std::vector<std::string> read_classes(const std::string& path);

// Writes classes.txt atomically.
void write_classes(const std::string& path, const std::vector<std::string>& names);

// Images per class: element i counts label i; size = largest label + 1, so
// classes absent from the list count 0.
std::vector<std::int64_t> class_counts(const std::vector<ListEntry>& entries);

// Entry indices of each class, in list order: element i lists label i's.
std::vector<std::vector<std::size_t>> indices_by_class(const std::vector<ListEntry>& entries);

}  // namespace lt
