#include "lt/io/provenance.hpp"

#include "lt/base/log.hpp"
#include "lt/base/version.hpp"
#include "lt/io/h5.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace lt::h5 {

namespace {

Invocation invocation;
struct Input {
    std::string file_name, lt_type;
    bool operator==(const Input& other) const { return file_name == other.file_name && lt_type == other.lt_type; }
};
std::vector<Input> inputs;
bool fixed = false;

std::string now_utc() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

}  // namespace

void set_invocation(Invocation value) { invocation = std::move(value); }

void record_input(const std::string& file_name, const std::string& lt_type) {
    Input input{file_name, lt_type};
    if (std::find(inputs.begin(), inputs.end(), input) == inputs.end()) inputs.push_back(input);
}

void set_fixed_provenance(bool value) { fixed = value; }

bool fixed_provenance() {
    if (fixed) return true;
    const char* mode = std::getenv("LT_PROVENANCE");
    return mode && std::string(mode) == "fixed";
}

void write_provenance(Group& root, const std::string& path) {
    const bool stable = fixed_provenance();
    root.set_attr("lt_tool", log::tool());
    root.set_attr("lt_version", version());
    root.set_attr("lt_git_commit", stable ? "fixed" : git_commit());
    root.set_attr("lt_command_line", stable ? "fixed" : invocation.command_line);
    root.set_attr("lt_options", stable ? "fixed" : invocation.options);
    if (!invocation.seed.empty()) root.set_attr("lt_seed", invocation.seed);
    if (!invocation.device.empty()) root.set_attr("lt_device", invocation.device);
    std::string text;
    for (const auto& input : inputs)
        if (input.file_name != path) text += (text.empty() ? "" : "; ") + input.file_name + " (" + input.lt_type + ")";
    if (!text.empty()) root.set_attr("lt_inputs", text);
    root.set_attr("lt_created_utc", stable ? "1970-01-01T00:00:00Z" : now_utc());
}

}  // namespace lt::h5
