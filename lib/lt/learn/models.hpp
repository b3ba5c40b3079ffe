// Backbones, classifier heads and state dicts with torchvision's names.
//
//   auto model = std::make_shared<lt::models::Model>("resnet50", num_classes);
//   auto report = lt::models::load_state_dict(*model->backbone(), weights);
//   torch::Tensor logits = model->forward(images);      // [N, C]
//   torch::Tensor feats = model->features(images);      // [N, D], pooled
//
// Every backbone's parameters and buffers carry exactly the names torchvision
// gives them (conv1.weight, bn1.running_mean, layer1.0.downsample.0.weight,
// ...), so a state dict exported from Python loads key for key.
//
// This header exposes torch::nn::Module (the training and extraction modules
// need parameters(), train()/eval() and to(device)), so it includes
// <torch/nn/module.h> (~8 s per translation unit) rather than <torch/torch.h>
// (~13 s); the network layers themselves stay in models.cpp.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lt::models {

// ---- Backbones -------------------------------------------------------------

// Architecture names accepted by make_backbone, in a stable order:
// resnet10, resnet18, resnet34, resnet50, resnet101, resnet152,
// resnext50_32x4d (224-px ImageNet style), resnet20, resnet32, resnet56
// (CIFAR style, for 28-32 px images).
const std::vector<std::string>& arch_names();

// Length D of the pooled feature vector: 512 for basic-block ImageNet nets,
// 2048 for bottleneck ones, 64 for CIFAR-style ones. Throws UsageError for an
// unknown name.
std::int64_t feature_dim(const std::string& arch);

// Sums a tensor, in place, over the processes of a data-parallel job.
using CrossProcessSum = std::function<void(torch::Tensor&)>;

// How BatchNorm layers get the statistics of a training batch: from the
// process's own batch (the default), or, with a cross-process sum, from the
// batches of all the job's processes together (PyTorch's SyncBatchNorm).
struct BatchNormSync {
    CrossProcessSum sum;
};

// Images [N, 3, H, W] -> pooled penultimate features [N, D]. Initialised as
// torchvision does (Kaiming-normal fan-out convolutions, BatchNorm weight 1
// and bias 0), from torch's global generator (torch::manual_seed).
class Backbone : public torch::nn::Module {
public:
    virtual torch::Tensor forward(torch::Tensor images) = 0;
    const std::string& arch() const { return arch_; }
    std::int64_t feature_dim() const { return feature_dim_; }

    // Training batches normalise with the statistics of every process's
    // batch (the running statistics follow them); an empty sum goes back to
    // per-process statistics. Parameters and state-dict keys are unchanged.
    void synchronize_batch_norm(CrossProcessSum sum) { batch_norm_sync_->sum = std::move(sum); }

protected:
    Backbone(std::string arch, std::int64_t feature_dim);
    // Shared with the layers, which read it on every forward pass.
    std::shared_ptr<BatchNormSync> batch_norm_sync_ = std::make_shared<BatchNormSync>();

private:
    std::string arch_;
    std::int64_t feature_dim_;
};

// Throws UsageError naming the valid architectures for an unknown name.
std::shared_ptr<Backbone> make_backbone(const std::string& arch);

// ---- Classifier heads ------------------------------------------------------

enum class ClassifierKind { cosine, linear };

// "cosine" | "linear"; anything else throws UsageError.
ClassifierKind parse_classifier_kind(const std::string& name);
std::string to_string(ClassifierKind kind);

// Features [N, D] -> logits [N, C]. Parameters: `weight` [C, D], and `scale`
// (cosine, a 0-d tensor) or `bias` [C] (linear).
class Classifier : public torch::nn::Module {
public:
    virtual torch::Tensor forward(torch::Tensor features) = 0;
    virtual ClassifierKind kind() const = 0;
    const torch::Tensor& weight() const { return weight_; }
    std::int64_t num_classes() const { return weight_.size(0); }
    std::int64_t feature_dim() const { return weight_.size(1); }

protected:
    // Registers `weight`, drawn from U(-1/sqrt(D), 1/sqrt(D)) like nn.Linear.
    Classifier(std::int64_t num_classes, std::int64_t feature_dim);
    torch::Tensor weight_;
};

// logits = s * normalize(x) @ normalize(W)^T, with a learnable scale s.
class CosineClassifier : public Classifier {
public:
    static constexpr double kInitialScale = 16.0;
    CosineClassifier(std::int64_t num_classes, std::int64_t feature_dim,
                     double initial_scale = kInitialScale);
    torch::Tensor forward(torch::Tensor features) override;
    ClassifierKind kind() const override { return ClassifierKind::cosine; }
    double scale() const;
    const torch::Tensor& scale_parameter() const { return scale_; }
    // The least scale a step may leave: a negative one inverts every score,
    // and a model file refuses one that is not positive.
    static constexpr double kMinScale = 0.01;
    // After an optimizer step: a scale below kMinScale is set to it (a
    // projected step); true when it was.
    bool hold_scale_positive();

private:
    torch::Tensor scale_;
};

// logits = x @ W^T + b, initialised like nn.Linear.
class LinearClassifier : public Classifier {
public:
    LinearClassifier(std::int64_t num_classes, std::int64_t feature_dim);
    torch::Tensor forward(torch::Tensor features) override;
    ClassifierKind kind() const override { return ClassifierKind::linear; }
    const torch::Tensor& bias() const { return bias_; }

private:
    torch::Tensor bias_;
};

std::shared_ptr<Classifier> make_classifier(ClassifierKind kind, std::int64_t num_classes,
                                            std::int64_t feature_dim);

// ---- Full model ------------------------------------------------------------

// Backbone + classifier, registered as `backbone` and `classifier` (so the
// model's own keys read backbone.conv1.weight, classifier.scale, ...).
class Model : public torch::nn::Module {
public:
    Model(std::shared_ptr<Backbone> backbone, std::shared_ptr<Classifier> classifier);
    // A fresh backbone of `arch` with a fresh head of num_classes rows.
    Model(const std::string& arch, std::int64_t num_classes,
          ClassifierKind kind = ClassifierKind::cosine);

    torch::Tensor forward(torch::Tensor images);   // logits [N, C]
    torch::Tensor features(torch::Tensor images);  // pooled features [N, D]

    const std::shared_ptr<Backbone>& backbone() const { return backbone_; }
    const std::shared_ptr<Classifier>& classifier() const { return classifier_; }

private:
    std::shared_ptr<Backbone> backbone_;
    std::shared_ptr<Classifier> classifier_;
};

// ---- Contrastive pretraining (SimCLR) -------------------------------------

// SimCLR's projection MLP g(h) = W2 relu(W1 h + b1) + b2 (Chen et al. 2020),
// D -> D -> output_dim, with the keys of nn.Sequential(Linear, ReLU, Linear):
// 0.weight, 0.bias, 2.weight, 2.bias (nn.Linear's initialisation).
class ProjectionHead : public torch::nn::Module {
public:
    static constexpr std::int64_t kOutputDim = 128;
    ProjectionHead(std::int64_t feature_dim, std::int64_t output_dim = kOutputDim);
    torch::Tensor forward(torch::Tensor features);  // [N, D] -> [N, output_dim]

private:
    torch::nn::Linear hidden_{nullptr}, output_{nullptr};
};

// Backbone + projection head, registered as `backbone` and `projection`:
// what lt-train --loss simclr trains. Only the backbone is kept for use.
class ContrastiveModel : public torch::nn::Module {
public:
    explicit ContrastiveModel(const std::string& arch);
    torch::Tensor forward(torch::Tensor images);  // projections [N, P]

    const std::shared_ptr<Backbone>& backbone() const { return backbone_; }
    const std::shared_ptr<ProjectionHead>& projection() const { return projection_; }

private:
    std::shared_ptr<Backbone> backbone_;
    std::shared_ptr<ProjectionHead> projection_;
};

// ---- State dicts -----------------------------------------------------------

// (key, tensor) pairs in torchvision's state_dict() order: module by module,
// depth first, each module's parameters and then its buffers.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// All parameters and buffers of `module`. The tensors are detached views of
// the module's own storage (no copy): clone them to keep a snapshot.
StateDict state_dict(const torch::nn::Module& module);

struct LoadReport {
    std::vector<std::string> matched;     // copied into the module
    std::vector<std::string> missing;     // in the module, not in the input: left as they were
    std::vector<std::string> unexpected;  // in the input, not in the module: not used
    std::vector<std::string> ignored;     // torchvision's `fc.` head: never used
    // "loaded 122 of 122 tensors; 0 missing; 0 unexpected; 2 ignored (fc.*)",
    // followed by up to a few of the missing and unexpected keys.
    std::string summary() const;
};

// Copies the tensors of `entries` into the module's parameters and buffers of
// the same names (converting dtype and device). A leading "module." (saved
// from DataParallel) is dropped from a key first. A shape mismatch throws
// SchemaError naming the key, before anything is copied.
LoadReport load_state_dict(torch::nn::Module& module, const StateDict& entries);

}  // namespace lt::models
