#include "lt/transfer/ensemble.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace lt::ensemble {

void Options::add_to(CLI::App& app) {
    app.add_option("members", members, "Classifier, ensemble, prototypes or model files (at least 2)")
        ->required()
        ->expected(2, -1)
        ->type_name("MEMBER.h5");
    output.add_to(app, "Ensemble file to write ('-' = stdout)");
}

std::vector<Classifier> combine(std::vector<ClassifierSet> sets) {
    std::vector<Classifier> members;
    std::vector<std::string> sources;
    for (auto& set : sets)
        for (auto& member : set.members) {
            members.push_back(std::move(member));  // weights are not copied
            sources.push_back(set.source);
        }
    if (members.size() < 2) throw UsageError("an ensemble needs at least 2 members");
    check_members_agree(members, sources);
    return members;
}

void run(const Options& options) {
    if (std::count(options.members.begin(), options.members.end(), "-") > 1)
        throw UsageError("only one member can be read from stdin");
    std::vector<ClassifierSet> sets;
    for (const auto& path : options.members) sets.push_back(read_classifier_set(h5::InputFile(path)));
    std::vector<Classifier> members = combine(std::move(sets));
    h5::OutputFile out(options.output.path, "ensemble");
    write_ensemble(out, members);
    out.commit();
}

}  // namespace lt::ensemble
