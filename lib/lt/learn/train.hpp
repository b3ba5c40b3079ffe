// lt-train: a backbone with a cosine (or linear) classifier from a list of
// images (docs/method.md §7): SGD with momentum and weight decay, a per-step
// cosine decay to 0 after an optional linear warm-up, separate learning rates
// for the backbone and the classifier, instance / square-root / class-aware /
// progressive sampling, cross-entropy or balanced-softmax loss; or, with
// --loss simclr, contrastive pretraining of the backbone without labels
// (SimCLR: two augmented views per image, a projection MLP, NT-Xent).
//
// The output model file is also the checkpoint: it is rewritten atomically
// after every epoch with the optimizer state, and --resume continues from it.
// Every random choice derives from (seed, epoch, position in the epoch) (the
// sampler, the augmentations) or is made once from the seed (the initial
// weights), so on the CPU with a fixed thread count a run killed and resumed
// ends with the same model as an uninterrupted one.
//
// Under a launcher (torchrun, srun: lt/learn/distributed.hpp) the processes
// of the job train one model together, data-parallel: --batch-size is the
// job's batch, each process computes an equal, contiguous share of every
// batch of the sampler's sequence (augmented as one process would), the
// gradients are averaged over the processes during the backward pass, and
// rank 0 alone writes the checkpoint and the log. --micro-batches M splits
// each process's share into M micro-batches whose gradients add up, so a job
// of P processes and one process with --micro-batches P compute the same
// steps. BatchNorm normalises each micro-batch on its own, or, with
// --sync-bn, a process's share with those of all the others.
#pragma once

#include "lt/cli/cli.hpp"
#include "lt/learn/distributed.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace lt::train {

struct Options {
    std::string train_list, val_list, root;
    cli::OutputOption output;
    // Defaults: the paper's ImageNet-LT recipe (docs/method.md §7).
    std::string arch = "resnext50_32x4d";
    std::string head = "cosine";        // cosine | linear
    std::string sampler = "sqrt";       // instance | sqrt | class-aware | progressive
    std::string loss = "ce";            // ce | balanced-softmax | simclr
    double temperature = 0.5;           // NT-Xent's (simclr only)
    int epochs = 90;
    int batch_size = 512;
    double lr = 0.2;            // classifier (and backbone unless lr_backbone is set)
    double lr_backbone = -1;    // < 0: the same as lr
    double momentum = 0.9;
    double weight_decay = 5e-4;
    double warmup_epochs = 0;
    std::string preset = "imagenet";  // imagenet | small (transforms.hpp)
    int image_size = 0;               // 0: the preset's
    std::string init;                 // torchvision-named weights for the backbone
    bool resume = false;
    std::string log;                  // JSON lines, one object per epoch ("-" = stdout)
    cli::SeedOption seed;
    int micro_batches = 1;            // per step and process
    bool sync_bn = false;             // BatchNorm statistics over all the processes of a job
    dist::TimeoutOption dist_timeout;

    void add_to(CLI::App& app);
};

// Learning rate at step (0-based) of total_steps: linear warm-up from
// base/warmup_steps to base over the first warmup_steps steps, then
// base * (1 + cos(pi * t)) / 2 with t going from 0 to 1 over the remaining
// steps (the last step's rate is just above 0).
double learning_rate(double base, std::int64_t step, std::int64_t total_steps, std::int64_t warmup_steps);

// Mean loss of logits [N, C] for target columns [N]. log_class_counts, when
// defined ([C], log n_j), is added to the logits first: the balanced softmax
// (Ren et al. 2020), which trains the unbiased logits under a long tail.
at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& targets,
                               const at::Tensor& log_class_counts);

// SimCLR's NT-Xent loss (Chen et al. 2020) of the projections of two views
// first, second [N, P] of the same N images: with z the 2N L2-normalised
// rows and s_ij = z_i . z_j / temperature, the mean over the 2N anchors i of
// -log(exp(s_ip) / sum_{j != i} exp(s_ij)), p being i's other view. The
// negatives of an anchor are the other 2N - 2 rows: the images given.
at::Tensor nt_xent_loss(const at::Tensor& first, const at::Tensor& second, double temperature);

void run(const Options& options, const Compute& compute);

}  // namespace lt::train
