// lt-extract: pooled backbone features of a list of images.
#include "lt/learn/extract.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-extract",
        "Extract pooled backbone features of a list of images into a features file (eval mode, eval transform).",
        "  $ lt-extract --model model.h5 --list fm/test.txt --root fm -o test.h5\n"
        "  $ lt-extract --model model.h5 --list fm/train.txt --root fm -o - | lt-protos - -o protos.h5\n"
        "  $ lt-extract --arch resnet50 --init resnet50.h5 --list val.txt --root imagenet --shard 2/4 \\\n"
        "      --device cuda --amp bf16 -o val-2.h5   # features still float32\n"
        "  $ lt-extract --merge val-1.h5 val-2.h5 val-3.h5 val-4.h5 -o val.h5\n",
        "lt-train(1), lt-protos(1), lt-eval(1), lt-h5(5)",
        lt::cli::kDevice | lt::cli::kWorkers | lt::cli::kProgress | lt::cli::kPrecision};
    lt::extract::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::extract::run(options, compute); });
}
