// lt-eval: many/medium/few/total accuracy of classifiers on features, per-class
// accuracies, confusion counts and top-k predictions.
#include "lt/transfer/eval.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-eval",
        "Evaluate classifiers on features: accuracy per shot group (many, medium, few) and in total, per class, confusion counts, and the best classes with their probabilities.",
        "  $ lt-eval test.h5 model.h5 protos.h5 wh20.h5 ensemble.h5\n"
        "  $ lt-eval test.h5 model.h5 wh20.h5 --names cosine,wh20 --format tsv --top5 --per-class classes.tsv\n"
        "  $ lt-eval unlabelled.h5 ensemble.h5 --predictions out.h5 --top-k 5\n"
        "  $ lt-protos train.h5 -o - | lt-eval test.h5 -      # nearest class mean\n",
        "lt-protos(1), lt-attend(1), lt-ensemble(1), lt-h5(5)",
        lt::cli::kDevice};
    lt::eval::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::eval::run(options, compute); });
}
