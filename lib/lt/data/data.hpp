// lt-data: builds long-tailed data sets as OLTR-style list files.
//
//   fashion-mnist  Fashion-MNIST-LT from Debian's IDX files: PNGs plus
//                  train/val/test lists and classes.txt (docs/design.md, "Data")
//   subsample      an exponential-profile subset of any list file
//   folder         the list of an ImageFolder tree (one folder per class)
//   check          decodes every image of a list, so bad files show up
//                  before a long training run: one line per bad list line on
//                  stdout, and optionally the good lines as a new list
//
// Each reports the per-class counts and the many/medium/few class counts on
// stderr. Outputs are written atomically.
#pragma once

#include "lt/base/random.hpp"
#include "lt/cli/cli.hpp"
#include "lt/io/lists.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lt::data {

// n_i = floor(n_max * ratio^(i / (classes - 1))) for i = 0 .. classes-1, with
// ratio = n_min / n_max in (0, 1] (the CIFAR-LT convention).
std::vector<std::int64_t> exponential_profile(std::int64_t n_max, double ratio, std::size_t classes);

// An exponential-profile subset of a list: the classes present, in label
// order or in a seeded random order (shuffle_classes), get n_0, n_1, ...
// training images, plus val_per_class more each for validation; the images
// of each class are drawn with the seed, without replacement.
struct ProfileOptions {
    std::int64_t n_max = 0;
    double ratio = 1;  // n_min / n_max
    std::int64_t val_per_class = 0;
    bool shuffle_classes = false;
    std::uint64_t seed = 0;
};
struct Selection {
    std::vector<std::size_t> train, val;   // indices into the source, ascending
    std::vector<std::int64_t> train_counts;  // by label
};
// Throws lt::Error when a class has fewer images than it is to get, and
// lt::UsageError for a profile that gives a class no image.
Selection subsample_by_profile(const std::vector<ListEntry>& source, const ProfileOptions& options);

// Logs (stderr) "<what>: N images in C classes: many/medium/few" and the
// per-class counts (all of them up to 50 classes, the rest with -v).
void log_class_summary(const std::string& what, const std::vector<std::int64_t>& class_counts,
                       const std::vector<std::string>& class_names = {});

struct FashionMnistOptions {
    cli::OutputOption output;  // the data set folder
    cli::SeedOption seed;
    std::string source = "/usr/share/datasets/fashion-mnist";
    std::int64_t n_max = 1280, n_min = 5, val_per_class = 20;
    std::int64_t unlabelled = 0;  // training images in neither train nor val, path only
    void add_to(CLI::App& command);
};
// Writes DIR/train/<label>/<index>.png (train and val images),
// DIR/test/<label>/<index>.png, DIR/{train,val,test}.txt and DIR/classes.txt;
// with unlabelled > 0 also DIR/unlabelled.txt: that many seeded random
// Fashion-MNIST training images that train and val do not use, as paths
// without labels (for contrastive pretraining, lt-train --loss simclr).
void run_fashion_mnist(const FashionMnistOptions& options);

struct SubsampleOptions {
    std::string list;          // "-" = standard input
    cli::OutputOption output;  // "-" = standard output
    cli::SeedOption seed;
    std::int64_t n_max = 0, n_min = 0;
    double imbalance = 0;      // n_max / n_min
    std::int64_t val_per_class = 0;
    std::string val_output;
    bool shuffle_classes = false;
    void add_to(CLI::App& command);
};
void run_subsample(const SubsampleOptions& options);

struct FolderOptions {
    std::string root;
    cli::OutputOption output;  // the list; classes.txt goes beside it
    std::string classes_output;
    void add_to(CLI::App& command);
};
void run_folder(const FolderOptions& options);

struct CheckOptions {
    std::string list;
    std::string root;
    std::string good_output;  // -o: the lines whose images decode
    void add_to(CLI::App& command);
};
void run_check(const CheckOptions& options, const Compute& compute);

// All subcommands: registers them on the tool's app, and runs the chosen one.
// Not copyable: the registered commands point into this object.
struct Options {
    Options() = default;
    Options(const Options&) = delete;
    Options& operator=(const Options&) = delete;

    FashionMnistOptions fashion_mnist;
    SubsampleOptions subsample;
    FolderOptions folder;
    CheckOptions check;
    void add_to(CLI::App& app);
    void run(const Compute& compute) const;

private:
    std::vector<std::pair<CLI::App*, std::function<void(const Compute&)>>> commands_;
};

}  // namespace lt::data
