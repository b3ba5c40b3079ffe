// lt-eval: many/medium/few/total accuracy of classifiers on features.
#include "lt/transfer/eval.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-eval",
        "Evaluate classifiers on features: accuracy per shot group (many, medium, few) and in total.",
        "  $ lt-eval test.h5 model.h5 protos.h5 wh20.h5 ensemble.h5\n"
        "  $ lt-eval test.h5 model.h5 wh20.h5 --names cosine,wh20 --format tsv\n"
        "  $ lt-eval train.h5 protos.h5 --counts protos.h5 --within-group\n"
        "  $ lt-protos train.h5 -o - | lt-eval test.h5 -      # nearest class mean\n",
        "lt-protos(1), lt-attend(1), lt-ensemble(1), lt-h5(5)",
        lt::cli::kDevice};
    lt::eval::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::eval::run(options, compute); });
}
