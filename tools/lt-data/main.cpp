// lt-data: builds long-tailed data sets as list files (see lib/lt/data.hpp).
#include "lt/cli/cli.hpp"
#include "lt/data/data.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-data",
        "Build long-tailed image data sets as list files ('<path> <label>' per line) and classes.txt",
        "  $ lt-data fashion-mnist -o data/fmnist-lt --seed 0     # Fashion-MNIST-LT from Debian's IDX files\n"
        "  $ lt-data subsample train.txt -o lt.txt --n-max 500 --imbalance 100 \\\n"
        "        --val-per-class 20 --val-output val.txt          # CIFAR-LT-style profile\n"
        "  $ grep -v ' 3$' train.txt | lt-data subsample - -o lt.txt --n-max 200 --n-min 2\n"
        "  $ lt-data folder photos/ -o photos/list.txt            # ImageFolder tree -> list + classes.txt\n"
        "  $ lt-data check lt.txt --root data/ -o good.txt >bad.tsv   # every bad line; the good ones kept\n",
        "lt-train(1), lt-extract(1)",
        lt::cli::kWorkers | lt::cli::kProgress};
    lt::data::Options options;
    return lt::cli::run_tool(
        argc, argv, info, [&](CLI::App& app) { options.add_to(app); }, [&](const lt::Compute& compute) { options.run(compute); });
}
