// lt-project: 2-D view of a few-shot class, its attention neighbours and
// their class representations (supplementary Fig. 1).
#include "lt/analysis/project.hpp"

int main(int argc, char** argv) {
    const lt::cli::ToolInfo info{
        "lt-project",
        "Project a few-shot class, its top attention neighbours and their prototypes, classifier and final "
        "classifier rows onto 2-D (PCA), as TSV.",
        "  $ lt-project --features val.h5 --classifier model.h5 --protos protos.h5 --final wh20.h5 > view.tsv\n"
        "  $ lt-project --features val.h5 --classifier model.h5 --protos protos.h5 --class 7 --neighbours 3\n"
        "  $ lt-protos train.h5 -o - | lt-project --features val.h5 --classifier model.h5 --protos - > view.tsv\n"
        "  $ gnuplot -e \"data='view.tsv'; out='view.png'\" share/plots/projection.gp\n",
        "lt-compat(1), lt-attend(1)"};
    lt::project::Options options;
    return lt::cli::run_tool(argc, argv, info, [&](CLI::App& app) { options.add_to(app); },
                             [&](const lt::Compute& compute) { lt::project::run(options, compute); });
}
