// lt-extract: pooled backbone features of a list of images, in eval mode
// with the eval transform, written batch by batch as an lt-h5 features file
// (memory does not grow with the number of images).
//
// The backbone comes from a model file (--model, which also gives the
// transform preset and image size it was trained with) or from an
// architecture and torchvision-named weights (--arch, --init).
//
// --shard I/N (1 <= I <= N) extracts the I-th of N contiguous, nearly equal
// ranges of the list: rows floor((I-1)*M/N) to floor(I*M/N) - 1 of M. Shards
// record where they come from (list and weights fingerprints, their range),
// and --merge joins all N shards of one extraction, in any order, into the
// file an unsharded run writes.
//
// Under a launcher (torchrun, srun: lt/learn/distributed.hpp) the processes
// of the job extract together: each computes every N-th batch of the list
// (or shard), rank 0 gathers them and writes the one output, equal to what a
// single process writes.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/learn/distributed.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lt::extract {

struct Shard {
    std::int64_t index = 1, count = 1;  // 1-based: shard index of count
};

// "I/N" with 1 <= I <= N; anything else throws UsageError.
Shard parse_shard(const std::string& text);

// Rows [first, end) of shard among rows items.
std::pair<std::int64_t, std::int64_t> shard_rows(std::int64_t rows, const Shard& shard);

struct Options {
    std::string model, arch, init;  // --model, or --arch with --init
    std::string list, root;
    std::string shard;              // "I/N"; empty = the whole list
    std::string split;              // the features' split attribute; default: the list's name
    std::string preset;             // default: the model's, or imagenet
    int image_size = 0;             // 0: the model's, or the preset's
    int batch_size = 128;
    std::vector<std::string> merge;  // shard files to join instead of extracting
    cli::OutputOption output;
    dist::TimeoutOption dist_timeout;

    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

// Joins the shards (any order) into output; checks they are all the shards
// of one extraction.
void merge_shards(const std::vector<std::string>& shards, const std::string& output);

}  // namespace lt::extract
