#include "lt/io/lists.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_map>

namespace lt {

namespace {

constexpr const char* kSpace = " \t\r\f\v";
// Far above any real class count (iNaturalist has 8,142); a larger label is a
// typo and would make per-class arrays huge.
constexpr std::int64_t kMaxLabel = (1 << 24) - 1;

std::string_view trim(std::string_view text) {
    auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(kSpace);
    return text.substr(first, last - first + 1);
}

// Lines without their end (LF or CRLF); a UTF-8 byte order mark is dropped.
std::vector<std::string> read_lines(std::istream& input) {
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(input, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (lines.empty() && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        lines.push_back(std::move(line));
    }
    return lines;
}

// One entry line: "<path> <label>", the label being the last field, or a
// path alone when labels are optional.
ListEntry parse_entry(std::string_view line, std::size_t number, const std::string& name, Labels labels) {
    line = trim(line);
    ListEntry entry;
    entry.line = number;
    auto separator = line.find_last_of(kSpace);
    if (separator == std::string_view::npos) {
        if (labels == Labels::required)
            throw Error(fmt::format("{} line {}: '{}' has no label", name, number, line),
                        "each line here needs '<path> <label>'; a path alone (label unknown) is for lt-extract, "
                        "lt-data check and lt-train --loss simclr");
        entry.path = std::string(line);
        entry.label = kUnknownLabel;
        return entry;
    }
    std::string_view path = trim(line.substr(0, separator));
    std::string_view label_text = line.substr(separator + 1);

    entry.path = std::string(path);
    const char* end = label_text.data() + label_text.size();
    auto [stop, status] = std::from_chars(label_text.data(), end, entry.label);
    if (status == std::errc::result_out_of_range)
        throw Error(fmt::format("{} line {}: label '{}' is out of range", name, number, label_text));
    if (status != std::errc() || stop != end)
        throw Error(fmt::format("{} line {}: label '{}' is not an integer", name, number, label_text),
                    "each line is '<path> <integer label>'; a path with spaces needs its label");
    if (entry.label < 0)
        throw Error(fmt::format("{} line {}: label {} is negative", name, number, entry.label));
    if (entry.label > kMaxLabel)
        throw Error(fmt::format("{} line {}: label {} is too large (at most {})", name, number, entry.label,
                                kMaxLabel));
    return entry;
}

}  // namespace

std::ifstream open_text_input(const std::string& path, const char* what) {
    // A folder opens as a stream that reads as empty.
    if (std::filesystem::is_directory(path)) throw Error(fmt::format("cannot read {} '{}': it is a folder", what, path));
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
    protect_input(path);
    return file;
}

std::vector<ListEntry> parse_list(std::istream& input, const std::string& name, Labels labels) {
    std::vector<ListEntry> entries;
    std::size_t number = 0;
    for (const std::string& line : read_lines(input)) {
        ++number;
        const std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;  // blank or comment
        entries.push_back(parse_entry(content, number, name, labels));
    }
    if (input.bad()) throw Error(fmt::format("cannot read list '{}'", name));
    if (entries.empty()) throw Error(fmt::format("list '{}' has no entries", name));
    return entries;
}

std::vector<ListEntry> read_list(const std::string& path, Labels labels) {
    if (path == "-") {
        claim_standard_input("a list");
        return parse_list(std::cin, "standard input", labels);
    }
    std::ifstream file = open_text_input(path, "list");
    return parse_list(file, path, labels);
}

std::vector<std::pair<std::size_t, std::size_t>> repeated_images(const std::vector<ListEntry>& entries) {
    std::vector<std::pair<std::size_t, std::size_t>> repeats;
    std::unordered_map<std::string, std::size_t> first_line;
    first_line.reserve(entries.size());
    for (const ListEntry& entry : entries) {
        auto [found, added] =
            first_line.emplace(std::filesystem::path(entry.path).lexically_normal().generic_string(), entry.line);
        if (!added) repeats.emplace_back(entry.line, found->second);
    }
    return repeats;
}

std::string format_list(const std::vector<ListEntry>& entries) {
    std::string text;
    for (const ListEntry& entry : entries) {
        if (entry.label == kUnknownLabel)
            fmt::format_to(std::back_inserter(text), "{}\n", entry.path);
        else
            fmt::format_to(std::back_inserter(text), "{} {}\n", entry.path, entry.label);
    }
    return text;
}

void write_list(const std::string& path, const std::vector<ListEntry>& entries) {
    write_text_output(path, format_list(entries));
}

std::vector<std::string> read_classes(const std::string& path) {
    std::ifstream file = open_text_input(path, "class names");
    std::vector<std::string> names = read_lines(file);
    if (file.bad()) throw Error(fmt::format("cannot read class names '{}'", path));
    while (!names.empty() && trim(names.back()).empty()) names.pop_back();
    for (std::size_t i = 0; i < names.size(); ++i) {
        names[i] = std::string(trim(names[i]));
        if (names[i].empty())
            throw Error(fmt::format("{} line {}: blank class name", path, i + 1),
                        "line i names label i - 1, so a blank line would shift the labels after it");
    }
    if (names.empty()) throw Error(fmt::format("class names '{}' is empty", path));
    return names;
}

std::string format_classes(const std::vector<std::string>& names, const std::string& path) {
    std::string text;
    for (const std::string& name : names) {
        if (name.empty() || name.find_first_of("\r\n") != std::string::npos)
            throw Error(fmt::format("cannot write '{}': class name '{}' is empty or has a line break", path, name));
        text += name + "\n";
    }
    return text;
}

void write_classes(const std::string& path, const std::vector<std::string>& names) {
    write_text_atomically(path, format_classes(names, path));
}

std::vector<std::int64_t> class_counts(const std::vector<ListEntry>& entries) {
    std::vector<std::int64_t> counts;
    for (const ListEntry& entry : entries) {
        if (entry.label < 0) continue;
        auto label = static_cast<std::size_t>(entry.label);
        if (label >= counts.size()) counts.resize(label + 1, 0);
        ++counts[label];
    }
    return counts;
}

std::vector<std::vector<std::size_t>> indices_by_class(const std::vector<ListEntry>& entries) {
    std::vector<std::vector<std::size_t>> indices;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].label < 0) continue;
        auto label = static_cast<std::size_t>(entries[i].label);
        if (label >= indices.size()) indices.resize(label + 1);
        indices[label].push_back(i);
    }
    return indices;
}

}  // namespace lt
