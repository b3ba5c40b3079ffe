// lt-train: a backbone with a cosine classifier from a list of images.
#include "lt/learn/train.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-train",
        "Train a backbone with a cosine (or linear) classifier on a long-tailed list of images; the model file "
        "is also the checkpoint.",
        "  $ lt-train --config fashion-mnist-lt --train-list fm/train.txt --val-list fm/val.txt --root fm -o model.h5\n"
        "  $ lt-extract --model model.h5 --list fm/test.txt --root fm -o - | lt-eval - model.h5   # test accuracy\n"
        "  $ lt-train --config places-lt-resnet152 --init resnet152.h5 --train-list Places_LT_train.txt \\\n"
        "      --root places365 -o model.h5 --resume    # continues the run if it was interrupted\n"
        "  $ grep -v ' [789]$' fm/train.txt > seen.txt   # classes 7-9 left out: no classifier rows\n"
        "  $ lt-train --config fashion-mnist-lt --train-list seen.txt --root fm -o seen.h5 --log seen.jsonl\n",
        "lt-extract(1), lt-data(1), lt-eval(1), lt-h5(5)",
        lt::cli::kDevice | lt::cli::kWorkers | lt::cli::kProgress | lt::cli::kPrecision};
    lt::train::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::train::run(options, compute); });
}
