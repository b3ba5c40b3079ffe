// lt-ensemble: the mean-of-probabilities ensemble of classifiers (Eq. 8).
#include "lt/transfer/ensemble.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-ensemble",
        "Ensemble classifiers: the mean of their softmax probabilities (Eq. 8).",
        "  $ lt-ensemble wh0.h5 wh20.h5 wh100.h5 -o ensemble.h5\n"
        "  $ lt-ensemble whc20.h5 whc100.h5 -o continual.h5\n"
        "  $ lt-ensemble wh0.h5 wh20.h5 wh100.h5 -o - | lt-eval test.h5 -\n",
        "lt-attend(1), lt-eval(1), lt-h5(5)"};
    lt::ensemble::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::ensemble::run(options); });
}
