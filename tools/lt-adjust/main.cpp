// lt-adjust: tau-normalisation and post-hoc logit adjustment of a trained
// classifier, without training.
#include "lt/transfer/adjust.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-adjust",
        "Rebalance a trained classifier without training: tau-normalisation or post-hoc logit adjustment.",
        "  $ lt-adjust --classifier model.h5 --tau-norm 1 -o tau1.h5\n"
        "  $ lt-adjust --classifier model.h5 -p 0,0.5,1,1.5,2 -o 'tau{p}.h5'   # one classifier per P\n"
        "  $ lt-adjust --classifier model.h5 --logit-adjust 1 --prior protos.h5 -o la1.h5\n"
        "  $ lt-adjust --classifier model.h5 -T 1 -o - | lt-eval test.h5 -\n",
        "lt-retrain(1), lt-eval(1), lt-ensemble(1), lt-h5(5)"};
    lt::adjust::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::adjust::run(options); });
}
