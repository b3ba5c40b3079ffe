#include "lt/base/log.hpp"

#include <algorithm>
#include <cstdio>

namespace lt::log {

namespace {
std::string tool_name = "lt";
int verbosity = 1;
int process_rank = 0;
}  // namespace

void set_tool(const std::string& name) { tool_name = name; }
const std::string& tool() { return tool_name; }
void set_level(int level) { verbosity = level; }
int level() { return verbosity; }
void set_rank(int rank) { process_rank = rank; }
int rank() { return process_rank; }

void write(const std::string& line) {
    if (process_rank > 0 && verbosity < 2) return;
    const std::string who = process_rank > 0 ? fmt::format("{} (rank {})", tool_name, process_rank) : tool_name;
    std::fprintf(stderr, "%s: %s\n", who.c_str(), line.c_str());
    std::fflush(stderr);
}

std::string some_of(const std::vector<std::int64_t>& ids, std::size_t shown) {
    std::string text;
    for (std::size_t i = 0; i < std::min(ids.size(), shown); ++i) text += (i ? ", " : "") + std::to_string(ids[i]);
    if (ids.size() > shown) text += fmt::format(", ... ({} more)", ids.size() - shown);
    return text;
}

}  // namespace lt::log
