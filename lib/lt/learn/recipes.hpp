// Training recipes: CLI11 config files ("key = value" per option) in
// share/recipes/, chosen with --config NAME or --config PATH. A name is looked
// up next to the running binary (<prefix>/bin/../share/lt/recipes, where
// `cmake --install` puts them) and then in the source tree the binary was
// built from, so recipes work from the build tree too.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace lt::recipes {

// Folders searched for recipes by name, in order.
std::vector<std::string> folders();

// Recipe names found in folders(), sorted, without duplicates.
std::vector<std::string> names();

// An existing file is returned as it is; otherwise a recipe of that name.
// Throws UsageError listing the recipes when neither exists.
std::string resolve(const std::string& name_or_path);

// Registers --config on app: a recipe whose values are defaults that the
// command line overrides.
void add_config_option(CLI::App& app);

}  // namespace lt::recipes
