// lt-wordnet: WordNet Leacock-Chodorow similarity of attention neighbours.
#include "lt/wordnet/wordnet.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-wordnet",
        "Add WordNet 3.0 Leacock-Chodorow similarity to the attention neighbours of lt-compat.",
        "  $ lt-wordnet --pair dog.n.01 cat.n.01\n"
        "  $ lt-wordnet neighbours.tsv --class-names classes.txt      # ImageNet: names are wnids\n"
        "  $ lt-compat --classifier m.h5 --protos p.h5 --neighbours 10 | lt-wordnet --class-names classes.txt\n",
        "lt-compat(1), wn(1)"};
    lt::wordnet::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute&) { lt::wordnet::run(options); });
}
