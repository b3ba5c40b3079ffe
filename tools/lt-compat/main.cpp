// lt-compat: agreement between prototypes and classifier weights.
#include "lt/analysis/compat.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-compat",
        "Compare prototypes with classifier weights: mismatch count, sharpness curve, attention neighbours.",
        "  $ lt-compat --classifier model.h5 --protos protos.h5 --mismatch\n"
        "  $ lt-compat --classifier model.h5 --protos protos.h5 --sharpness > sharpness.tsv\n"
        "  $ lt-compat --classifier model.h5 --protos protos.h5 --neighbours 10 --class 3 --class-names classes.txt\n"
        "  $ lt-protos train.h5 -o - | lt-compat --classifier model.h5 --protos - --mismatch\n",
        "lt-attend(1), lt-protos(1), lt-h5(5)"};
    lt::compat::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::compat::run(options, compute); });
}
