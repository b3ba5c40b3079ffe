#include "lt/learn/recipes.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace lt::recipes {

namespace fs = std::filesystem;

std::vector<std::string> folders() {
    std::vector<std::string> result;
    std::error_code error;
    const fs::path executable = fs::read_symlink("/proc/self/exe", error);
    if (!error) result.push_back((executable.parent_path().parent_path() / "share" / "lt" / "recipes").string());
#ifdef LT_SOURCE_RECIPES
    result.push_back(LT_SOURCE_RECIPES);
#endif
    return result;
}

std::vector<std::string> names() {
    std::vector<std::string> found;
    for (const std::string& folder : folders()) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(folder, error))
            if (entry.is_regular_file()) found.push_back(entry.path().filename().string());
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
}

std::string resolve(const std::string& name_or_path) {
    std::error_code error;
    if (fs::is_regular_file(name_or_path, error)) return name_or_path;
    if (name_or_path.find('/') == std::string::npos)
        for (const std::string& folder : folders()) {
            const fs::path candidate = fs::path(folder) / name_or_path;
            if (fs::is_regular_file(candidate, error)) return candidate.string();
        }
    const auto known = names();
    throw UsageError(fmt::format("no recipe or file '{}' (recipes: {})", name_or_path,
                                 known.empty() ? "none installed" : fmt::format("{}", fmt::join(known, ", "))));
}

void add_config_option(CLI::App& app) {
    app.set_config("--config", "",
                   "Recipe: a name from share/recipes (e.g. fashion-mnist-lt) or a CLI11 config file; "
                   "options given on the command line override it")
        ->type_name("RECIPE")
        ->transform(CLI::Validator(
            [](std::string& value) -> std::string {
                try {
                    value = resolve(value);
                    protect_input(value);  // no output of the run may replace its recipe
                } catch (const UsageError& error) {
                    return error.what();
                }
                return {};
            },
            "", "RECIPE"));
    // A misspelt key (epoch, batch_size) would otherwise be ignored silently.
    app.allow_config_extras(CLI::config_extras_mode::error);
}

}  // namespace lt::recipes
