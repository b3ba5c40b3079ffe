// lt-protos: class prototypes (Eq. 3) from features files, or merged from prototypes files.
#include "lt/transfer/protos.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-protos",
        "Compute class prototypes: the mean of the L2-normalised features of each class (Eq. 3), over one or "
        "more features files, or merged from prototypes files.",
        "  $ lt-protos train.h5 -o protos.h5\n"
        "  $ lt-protos train.h5 new.h5 -o all.h5        # over several features files, one pass each\n"
        "  $ lt-protos --merge protos.h5 new-protos.h5 -o all.h5   # weighted by counts: the same prototypes\n"
        "  $ lt-protos train.h5 -o - | lt-attend --classifier model.h5 --protos - -k 20 -o wh20.h5\n",
        "lt-attend(1), lt-eval(1), lt-compat(1), lt-h5(5)"};
    lt::protos::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::protos::run(options); });
}
