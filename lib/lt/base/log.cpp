#include "lt/base/log.hpp"

#include <cstdio>

namespace lt::log {

namespace {
std::string tool_name = "lt";
int verbosity = 1;
}  // namespace

void set_tool(const std::string& name) { tool_name = name; }
const std::string& tool() { return tool_name; }
void set_level(int level) { verbosity = level; }
int level() { return verbosity; }

void write(const std::string& line) {
    std::fprintf(stderr, "%s: %s\n", tool_name.c_str(), line.c_str());
    std::fflush(stderr);
}

}  // namespace lt::log
