// lt-info: what an lt-h5 file holds.
#include "lt/info/info.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-info",
        "Say what lt-h5 files hold: type, schema version, shapes, class counts, classifier settings, ensemble "
        "members, provenance.",
        "  $ lt-info model.h5 protos.h5 wh20.h5\n"
        "  $ lt-info --json test.h5 | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"labels\"])'\n"
        "  $ lt-protos train.h5 -o - | lt-info -          # what a pipeline step makes\n"
        "  $ lt-info --class-counts protos.h5 | sort -k2 -n | head   # the rarest classes\n",
        "lt-h5(5), lt-protos(1), lt-attend(1), lt-eval(1)"};
    lt::info::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::info::run(options); });
}
