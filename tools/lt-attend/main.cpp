// lt-attend: compose classifiers by attention from prototypes to classifier
// weights (Eq. 4-7, 9), without training.
#include "lt/transfer/attend.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-attend",
        "Compose classifiers for rare classes by knowledge transfer (Eq. 4-7, 9), without training.",
        "  $ lt-attend --classifier model.h5 --protos protos.h5 -k 20 -o wh20.h5       # w^h(20)\n"
        "  $ lt-attend --classifier model.h5 --protos protos.h5 -k 100 --continual -o whc100.h5\n"
        "  $ lt-attend --classifier model.h5 --protos protos.h5 -k 0,20,100 -o 'wh{k}.h5'   # one pass, three files\n"
        "  $ lt-protos train.h5 -o - | lt-attend --classifier model.h5 --protos - -k 20 -o - | lt-eval test.h5 -\n",
        "lt-protos(1), lt-ensemble(1), lt-eval(1), lt-compat(1), lt-h5(5)",
        lt::cli::kDevice};
    lt::attend::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::attend::run(options, compute); });
}
