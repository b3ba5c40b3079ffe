// lt-retrain: classifier rebalancing on frozen features (Kang et al.,
// "Decoupling representation and classifier for long-tailed recognition").
//
//   crt  classifier re-training: a fresh head of the classifier's kind
//        (cosine with its scale, or linear), trained on the features;
//   lws  learnable weight scaling: the classifier's rows stay, one scale per
//        class multiplies its logit.
//
// Both train with class-balanced sampling by default. This is training, so
// it lives in the learn wing and uses LibTorch's autograd and SGD, whose
// threaded products make an epoch of ImageNet-LT-sized features take
// seconds; the training-free tools stay free of LibTorch.
#pragma once

#include "lt/base/compute.hpp"
#include "lt/cli/cli.hpp"
#include "lt/io/schema.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lt::retrain {

struct Settings {
    std::string method = "crt";                // crt | lws
    std::string sampler = "class-balanced";    // class-balanced | instance | sqrt | progressive
    int epochs = 10;
    double lr = 0.2;
    std::int64_t batch_size = 512;
    double momentum = 0.9, weight_decay = 5e-4;
    std::uint64_t seed = 0;
};

// features: [N, D]; labels: N class ids (rows whose label the classifier
// lacks, or -1, are not used). Deterministic for a seed and thread count.
Classifier retrain(const Classifier& classifier, const Matrix& features, const std::vector<std::int64_t>& labels,
                   const Settings& settings);

struct Options {
    std::string features, classifier;
    Settings settings;
    cli::SeedOption seed;
    cli::OutputOption output;
    void add_to(CLI::App& app);
};

void run(const Options& options, const Compute& compute);

}  // namespace lt::retrain
