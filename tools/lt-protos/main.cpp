// lt-protos: class prototypes (Eq. 3) from a features file.
#include "lt/transfer/protos.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-protos",
        "Compute class prototypes: the mean of the L2-normalised features of each class (Eq. 3).",
        "  $ lt-protos train.h5 -o protos.h5\n"
        "  $ lt-protos val.h5 -o val-protos.h5        # prototypes from validation features\n"
        "  $ lt-protos train.h5 -o - | lt-attend --classifier model.h5 --protos - -k 20 -o wh20.h5\n",
        "lt-attend(1), lt-eval(1), lt-compat(1), lt-h5(5)"};
    lt::protos::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::protos::run(options); });
}
