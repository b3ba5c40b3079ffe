// lt-retrain: cRT and LWS, classifier rebalancing on frozen features.
#include "lt/learn/retrain.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-retrain",
        "Rebalance a classifier on frozen features: re-train a fresh head (cRT) or learn per-class scales (LWS).",
        "  $ lt-retrain train.h5 --classifier model.h5 --method crt -o crt.h5\n"
        "  $ lt-retrain train.h5 --classifier model.h5 --method lws --epochs 5 -o lws.h5\n"
        "  $ lt-retrain train.h5 --classifier model.h5 --method crt -o - | lt-eval test.h5 -\n",
        "lt-adjust(1), lt-extract(1), lt-eval(1), lt-h5(5)"};
    lt::retrain::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::retrain::run(options, compute); });
}
