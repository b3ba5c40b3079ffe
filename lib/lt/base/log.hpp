// Messages on stderr, prefixed with the tool name ("lt-eval: ...").
// stdout is reserved for data and reports; everything human goes here.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lt::log {

// Set once by the tool's main (cli::run_tool).
void set_tool(const std::string& name);
const std::string& tool();
// 0 = quiet, 1 = normal (default), 2+ = verbose.
void set_level(int level);
int level();
// In a launched job rank 0 speaks for the job: the other ranks run the same
// command on the same data, so their messages and warnings would repeat
// rank 0's once per process. Ranks above 0 draw no progress and print
// messages only with -v, each line naming its rank ("lt-train (rank 1):
// ..."). Errors are not messages: every rank reports its own (lt/cli).
void set_rank(int rank);
int rank();

void write(const std::string& line);

// The ids a message names: the first `shown`, then how many more
// ("3, 7, 9" or "0, 1, ..., 9, ... (5 more)").
std::string some_of(const std::vector<std::int64_t>& ids, std::size_t shown = 10);

template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
    if (level() >= 1) write(fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void verbose(fmt::format_string<Args...> format, Args&&... args) {
    if (level() >= 2) write(fmt::format(format, std::forward<Args>(args)...));
}
// Warnings are shown even with --quiet.
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
    write("warning: " + fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace lt::log
