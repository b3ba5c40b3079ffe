// ResNets as torchvision builds them (v1.5: the stride sits on the 3x3 conv of
// a bottleneck), CIFAR-style ResNets, the two classifier heads and state dicts.
// Modules are registered in torchvision's order so that state_dict() lists the
// keys in the same order as Python's.
#include "lt/learn/models.hpp"

#include "lt/base/error.hpp"

// Only the layers used here, not <torch/torch.h>: a third less compile time.
#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/autograd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace lt::models {
namespace {

enum class BlockType { basic, bottleneck };

// ImageNet style: 7x7/2 stem + 3x3/2 max pool, four stages of 64..512 planes.
// CIFAR style: 3x3/1 stem, no pooling, three stages of 16, 32, 64 planes.
enum class Stem { imagenet, cifar };

struct ArchSpec {
    std::string name;
    Stem stem;
    BlockType block;
    std::vector<int> blocks_per_stage;
    std::int64_t groups = 1;
    std::int64_t width_per_group = 64;
};

const std::vector<ArchSpec>& arch_specs() {
    static const std::vector<ArchSpec> specs = {
        {"resnet10", Stem::imagenet, BlockType::basic, {1, 1, 1, 1}},
        {"resnet18", Stem::imagenet, BlockType::basic, {2, 2, 2, 2}},
        {"resnet34", Stem::imagenet, BlockType::basic, {3, 4, 6, 3}},
        {"resnet50", Stem::imagenet, BlockType::bottleneck, {3, 4, 6, 3}},
        {"resnet101", Stem::imagenet, BlockType::bottleneck, {3, 4, 23, 3}},
        {"resnet152", Stem::imagenet, BlockType::bottleneck, {3, 8, 36, 3}},
        {"resnext50_32x4d", Stem::imagenet, BlockType::bottleneck, {3, 4, 6, 3}, 32, 4},
        {"resnet20", Stem::cifar, BlockType::basic, {3, 3, 3}},
        {"resnet32", Stem::cifar, BlockType::basic, {5, 5, 5}},
        {"resnet56", Stem::cifar, BlockType::basic, {9, 9, 9}},
    };
    return specs;
}

const ArchSpec& find_arch(const std::string& name) {
    for (const auto& spec : arch_specs())
        if (spec.name == name) return spec;
    throw UsageError(fmt::format("unknown architecture '{}' (valid: {})", name,
                                 fmt::join(arch_names(), ", ")));
}

std::int64_t expansion(BlockType block) { return block == BlockType::basic ? 1 : 4; }

std::vector<std::int64_t> stage_planes(Stem stem) {
    if (stem == Stem::imagenet) return {64, 128, 256, 512};
    return {16, 32, 64};
}

std::int64_t spec_feature_dim(const ArchSpec& spec) {
    return stage_planes(spec.stem).back() * expansion(spec.block);
}

// torchvision's conv3x3 / conv1x1 / 7x7 stem: "same" padding, no bias.
torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel,
                       std::int64_t stride = 1, std::int64_t groups = 1) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                 .stride(stride)
                                 .padding(kernel / 2)
                                 .groups(groups)
                                 .bias(false));
}

// Batch normalisation with the statistics of the batches of all processes
// (PyTorch's SyncBatchNorm): the per-channel count, sum and sum of squares
// are summed over the processes in the forward pass, and the two gradient
// sums the input's gradient needs in the backward pass. The weight and bias
// gradients stay per process (the gradient averaging sums them).
class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* context, torch::Tensor x, torch::Tensor weight,
                                 torch::Tensor bias, torch::Tensor running_mean, torch::Tensor running_var,
                                 torch::Tensor batches_tracked, double momentum, double eps,
                                 const CrossProcessSum* sum) {
        const std::int64_t channels = x.size(1);
        const std::vector<std::int64_t> reduced{0, 2, 3};
        // Local moments in float (stable), combined in double.
        const auto [variance, mean] = torch::var_mean(x, reduced, /*unbiased=*/false);
        const double count = static_cast<double>(x.numel() / channels);
        torch::Tensor stats = torch::empty({2 * channels + 1}, x.options().dtype(torch::kDouble));
        torch::Tensor local_mean = mean.to(torch::kDouble);
        stats.narrow(0, 0, channels).copy_(local_mean * count);
        stats.narrow(0, channels, channels).copy_((variance.to(torch::kDouble) + local_mean * local_mean) * count);
        stats[2 * channels].fill_(count);
        (*sum)(stats);
        const double total = stats[2 * channels].item<double>();
        const torch::Tensor global_mean = stats.narrow(0, 0, channels) / total;
        const torch::Tensor global_variance =
            (stats.narrow(0, channels, channels) / total - global_mean * global_mean).clamp_min(0);
        {
            torch::NoGradGuard no_grad;
            running_mean.mul_(1 - momentum).add_(global_mean.to(running_mean.scalar_type()), momentum);
            running_var.mul_(1 - momentum)
                .add_((global_variance * (total / std::max(total - 1, 1.0))).to(running_var.scalar_type()), momentum);
            batches_tracked.add_(1);
        }
        const torch::Tensor mean_f = global_mean.to(x.scalar_type()).view({1, channels, 1, 1});
        const torch::Tensor inverse_std = (global_variance + eps).rsqrt().to(x.scalar_type()).view({1, channels, 1, 1});
        context->save_for_backward({x, weight, mean_f, inverse_std});
        context->saved_data["total"] = total;
        context->saved_data["sum"] = reinterpret_cast<std::int64_t>(sum);
        return (x - mean_f) * (inverse_std * weight.view({1, channels, 1, 1})) + bias.view({1, channels, 1, 1});
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                   torch::autograd::variable_list outputs) {
        const auto saved = context->get_saved_variables();
        const torch::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &inverse_std = saved[3];
        const double total = context->saved_data["total"].toDouble();
        const auto* sum = reinterpret_cast<const CrossProcessSum*>(context->saved_data["sum"].toInt());
        const torch::Tensor& dy = outputs[0];
        const std::int64_t channels = x.size(1);
        const std::vector<std::int64_t> reduced{0, 2, 3};
        const torch::Tensor normalized = (x - mean) * inverse_std;
        const torch::Tensor sum_dy = dy.sum(reduced);
        const torch::Tensor sum_dy_normalized = (dy * normalized).sum(reduced);
        torch::Tensor sums = torch::cat({sum_dy, sum_dy_normalized}).to(torch::kDouble);
        (*sum)(sums);
        const torch::Tensor mean_dy = (sums.narrow(0, 0, channels) / total).to(x.scalar_type()).view({1, channels, 1, 1});
        const torch::Tensor mean_dy_normalized =
            (sums.narrow(0, channels, channels) / total).to(x.scalar_type()).view({1, channels, 1, 1});
        const torch::Tensor dx =
            (weight.view({1, channels, 1, 1}) * inverse_std) * (dy - mean_dy - normalized * mean_dy_normalized);
        return {dx, sum_dy_normalized, sum_dy, {}, {}, {}, {}, {}, {}};
    }
};

// A BatchNorm layer's forward pass, with cross-process statistics in
// training when the backbone has them.
torch::Tensor normalize(torch::nn::BatchNorm2d& layer, const torch::Tensor& x, const BatchNormSync& sync) {
    if (!sync.sum || !layer->is_training()) return layer->forward(x);
    const auto& options = layer->options;
    return SyncBatchNormFunction::apply(x, layer->weight, layer->bias, layer->running_mean, layer->running_var,
                                        layer->num_batches_tracked, options.momentum().value_or(0.1), options.eps(),
                                        &sync.sum);
}

class ResidualBlock : public torch::nn::Module {
public:
    virtual torch::Tensor forward(torch::Tensor x) = 0;

protected:
    explicit ResidualBlock(std::shared_ptr<const BatchNormSync> sync) : sync_(std::move(sync)) {}

    // A 1x1 conv + BN projection, named downsample.0 / downsample.1, where the
    // shape changes; registered last, as torchvision does.
    void add_downsample_if_needed(std::int64_t in, std::int64_t out, std::int64_t stride) {
        if (stride == 1 && in == out) return;
        downsample_conv_ = conv(in, out, 1, stride);
        downsample_norm_ = torch::nn::BatchNorm2d(out);
        register_module("downsample", torch::nn::Sequential(downsample_conv_, downsample_norm_));
    }
    torch::Tensor shortcut(const torch::Tensor& x) {
        return downsample_conv_ ? norm(downsample_norm_, downsample_conv_(x)) : x;
    }
    torch::Tensor norm(torch::nn::BatchNorm2d& layer, const torch::Tensor& x) { return normalize(layer, x, *sync_); }

private:
    std::shared_ptr<const BatchNormSync> sync_;
    torch::nn::Conv2d downsample_conv_{nullptr};
    torch::nn::BatchNorm2d downsample_norm_{nullptr};
};

class BasicBlock : public ResidualBlock {
public:
    BasicBlock(std::shared_ptr<const BatchNormSync> sync, std::int64_t in, std::int64_t planes, std::int64_t stride)
        : ResidualBlock(std::move(sync)),
          conv1_(register_module("conv1", conv(in, planes, 3, stride))),
          bn1_(register_module("bn1", torch::nn::BatchNorm2d(planes))),
          conv2_(register_module("conv2", conv(planes, planes, 3))),
          bn2_(register_module("bn2", torch::nn::BatchNorm2d(planes))) {
        add_downsample_if_needed(in, planes, stride);
    }

    torch::Tensor forward(torch::Tensor x) override {
        auto out = norm(bn1_, conv1_(x)).relu_();
        out = norm(bn2_, conv2_(out));
        out += shortcut(x);
        return out.relu_();
    }

private:
    torch::nn::Conv2d conv1_;
    torch::nn::BatchNorm2d bn1_;
    torch::nn::Conv2d conv2_;
    torch::nn::BatchNorm2d bn2_;
};

class Bottleneck : public ResidualBlock {
public:
    Bottleneck(std::shared_ptr<const BatchNormSync> sync, std::int64_t in, std::int64_t planes, std::int64_t stride,
               std::int64_t groups, std::int64_t width_per_group)
        : ResidualBlock(std::move(sync)),
          width_(planes * width_per_group / 64 * groups),
          conv1_(register_module("conv1", conv(in, width_, 1))),
          bn1_(register_module("bn1", torch::nn::BatchNorm2d(width_))),
          conv2_(register_module("conv2", conv(width_, width_, 3, stride, groups))),
          bn2_(register_module("bn2", torch::nn::BatchNorm2d(width_))),
          conv3_(register_module("conv3", conv(width_, planes * 4, 1))),
          bn3_(register_module("bn3", torch::nn::BatchNorm2d(planes * 4))) {
        add_downsample_if_needed(in, planes * 4, stride);
    }

    torch::Tensor forward(torch::Tensor x) override {
        auto out = norm(bn1_, conv1_(x)).relu_();
        out = norm(bn2_, conv2_(out)).relu_();
        out = norm(bn3_, conv3_(out));
        out += shortcut(x);
        return out.relu_();
    }

private:
    std::int64_t width_;
    torch::nn::Conv2d conv1_;
    torch::nn::BatchNorm2d bn1_;
    torch::nn::Conv2d conv2_;
    torch::nn::BatchNorm2d bn2_;
    torch::nn::Conv2d conv3_;
    torch::nn::BatchNorm2d bn3_;
};

// layerN: blocks named 0, 1, ...; the first one changes stride and width.
class Stage : public torch::nn::Module {
public:
    Stage(const ArchSpec& spec, const std::shared_ptr<const BatchNormSync>& sync, std::int64_t& in,
          std::int64_t planes, int count, std::int64_t stride) {
        for (int i = 0; i < count; ++i) {
            const std::int64_t block_stride = i == 0 ? stride : 1;
            std::shared_ptr<ResidualBlock> block;
            if (spec.block == BlockType::basic)
                block = std::make_shared<BasicBlock>(sync, in, planes, block_stride);
            else
                block = std::make_shared<Bottleneck>(sync, in, planes, block_stride, spec.groups,
                                                     spec.width_per_group);
            blocks_.push_back(register_module(std::to_string(i), block));
            in = planes * expansion(spec.block);
        }
    }

    torch::Tensor forward(torch::Tensor x) {
        for (const auto& block : blocks_) x = block->forward(x);
        return x;
    }

private:
    std::vector<std::shared_ptr<ResidualBlock>> blocks_;
};

class ResNet : public Backbone {
public:
    explicit ResNet(const ArchSpec& spec)
        : Backbone(spec.name, spec_feature_dim(spec)), imagenet_stem_(spec.stem == Stem::imagenet) {
        const auto planes = stage_planes(spec.stem);
        std::int64_t channels = planes.front();
        conv1_ = register_module("conv1", imagenet_stem_ ? conv(3, channels, 7, 2) : conv(3, channels, 3));
        bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels));
        for (std::size_t i = 0; i < planes.size(); ++i) {
            const std::int64_t stride = i == 0 ? 1 : 2;
            stages_.push_back(register_module(
                "layer" + std::to_string(i + 1),
                std::make_shared<Stage>(spec, batch_norm_sync_, channels, planes[i], spec.blocks_per_stage[i], stride)));
        }
        initialize();
    }

    torch::Tensor forward(torch::Tensor images) override {
        auto x = normalize(bn1_, conv1_(images), *batch_norm_sync_).relu_();
        if (imagenet_stem_) x = torch::max_pool2d(x, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
        for (const auto& stage : stages_) x = stage->forward(x);
        return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    }

private:
    // torchvision.models.ResNet.__init__ (zero_init_residual=False).
    void initialize() {
        for (const auto& module : modules(/*include_self=*/false)) {
            if (auto* c = module->as<torch::nn::Conv2d>()) {
                torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
            } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
                torch::nn::init::ones_(bn->weight);
                torch::nn::init::zeros_(bn->bias);
            }
        }
    }

    bool imagenet_stem_;
    torch::nn::Conv2d conv1_{nullptr};
    torch::nn::BatchNorm2d bn1_{nullptr};
    std::vector<std::shared_ptr<Stage>> stages_;
};

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

std::string shape_string(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

}  // namespace

// ---- Backbones -------------------------------------------------------------

const std::vector<std::string>& arch_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& spec : arch_specs()) out.push_back(spec.name);
        return out;
    }();
    return names;
}

std::int64_t feature_dim(const std::string& arch) { return spec_feature_dim(find_arch(arch)); }

Backbone::Backbone(std::string arch, std::int64_t feature_dim)
    : arch_(std::move(arch)), feature_dim_(feature_dim) {}

std::shared_ptr<Backbone> make_backbone(const std::string& arch) {
    return std::make_shared<ResNet>(find_arch(arch));
}

// ---- Classifier heads ------------------------------------------------------

ClassifierKind parse_classifier_kind(const std::string& name) {
    if (name == "cosine") return ClassifierKind::cosine;
    if (name == "linear") return ClassifierKind::linear;
    throw UsageError(fmt::format("unknown classifier kind '{}' (valid: cosine, linear)", name));
}

std::string to_string(ClassifierKind kind) { return kind == ClassifierKind::cosine ? "cosine" : "linear"; }

Classifier::Classifier(std::int64_t num_classes, std::int64_t feature_dim) {
    if (num_classes < 1 || feature_dim < 1)
        throw Error(fmt::format("a classifier needs at least one class and one feature dimension "
                                "(got {} classes, {} dimensions)", num_classes, feature_dim));
    const double bound = 1.0 / std::sqrt(static_cast<double>(feature_dim));
    weight_ = register_parameter("weight", torch::empty({num_classes, feature_dim}).uniform_(-bound, bound));
}

CosineClassifier::CosineClassifier(std::int64_t num_classes, std::int64_t feature_dim, double initial_scale)
    : Classifier(num_classes, feature_dim),
      scale_(register_parameter("scale", torch::full({}, initial_scale))) {}

torch::Tensor CosineClassifier::forward(torch::Tensor features) {
    namespace F = torch::nn::functional;
    const auto unit = F::NormalizeFuncOptions().p(2).dim(1);  // x / max(|x|, 1e-12)
    return scale_ * torch::mm(F::normalize(features, unit), F::normalize(weight_, unit).t());
}

double CosineClassifier::scale() const { return scale_.item<double>(); }

bool CosineClassifier::hold_scale_positive() {
    // As the float32 parameter holds it (0.01f is below 0.01).
    const double least = static_cast<float>(kMinScale);
    if (!(scale() < least)) return false;  // NaN is the loss check's
    torch::NoGradGuard no_grad;
    scale_.fill_(kMinScale);
    return true;
}

LinearClassifier::LinearClassifier(std::int64_t num_classes, std::int64_t feature_dim)
    : Classifier(num_classes, feature_dim) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(feature_dim));
    bias_ = register_parameter("bias", torch::empty({num_classes}).uniform_(-bound, bound));
}

torch::Tensor LinearClassifier::forward(torch::Tensor features) {
    return torch::addmm(bias_, features, weight_.t());
}

ProjectionHead::ProjectionHead(std::int64_t feature_dim, std::int64_t output_dim)
    : hidden_(register_module("0", torch::nn::Linear(feature_dim, feature_dim))),
      output_(register_module("2", torch::nn::Linear(feature_dim, output_dim))) {}

torch::Tensor ProjectionHead::forward(torch::Tensor features) { return output_(torch::relu(hidden_(features))); }

ContrastiveModel::ContrastiveModel(const std::string& arch)
    : backbone_(register_module("backbone", make_backbone(arch))),
      projection_(register_module("projection", std::make_shared<ProjectionHead>(backbone_->feature_dim()))) {}

torch::Tensor ContrastiveModel::forward(torch::Tensor images) { return projection_->forward(backbone_->forward(images)); }

std::shared_ptr<Classifier> make_classifier(ClassifierKind kind, std::int64_t num_classes,
                                            std::int64_t feature_dim) {
    if (kind == ClassifierKind::cosine) return std::make_shared<CosineClassifier>(num_classes, feature_dim);
    return std::make_shared<LinearClassifier>(num_classes, feature_dim);
}

// ---- Full model ------------------------------------------------------------

Model::Model(std::shared_ptr<Backbone> backbone, std::shared_ptr<Classifier> classifier)
    : backbone_(register_module("backbone", std::move(backbone))),
      classifier_(register_module("classifier", std::move(classifier))) {
    if (classifier_->feature_dim() != backbone_->feature_dim())
        throw Error(fmt::format("the classifier expects {}-dimensional features but {} gives {}",
                                classifier_->feature_dim(), backbone_->arch(), backbone_->feature_dim()));
}

Model::Model(const std::string& arch, std::int64_t num_classes, ClassifierKind kind)
    : Model(make_backbone(arch), make_classifier(kind, num_classes, feature_dim(arch))) {}

torch::Tensor Model::forward(torch::Tensor images) { return classifier_->forward(backbone_->forward(images)); }

torch::Tensor Model::features(torch::Tensor images) { return backbone_->forward(images); }

// ---- State dicts -----------------------------------------------------------

StateDict state_dict(const torch::nn::Module& module) {
    StateDict entries;
    const auto add_own = [&entries](const torch::nn::Module& m, const std::string& prefix) {
        for (const auto& item : m.named_parameters(/*recurse=*/false))
            if (item.value().defined()) entries.emplace_back(prefix + item.key(), item.value().detach());
        for (const auto& item : m.named_buffers(/*recurse=*/false))
            if (item.value().defined()) entries.emplace_back(prefix + item.key(), item.value().detach());
    };
    // named_modules() lists descendants depth first, in registration order;
    // the root is handled apart because including it needs a shared_ptr.
    add_own(module, "");
    for (const auto& item : module.named_modules("", /*include_self=*/false)) add_own(*item.value(), item.key() + ".");
    return entries;
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& entries) {
    const StateDict targets = state_dict(module);
    std::unordered_map<std::string, const torch::Tensor*> target_by_key;
    for (const auto& [key, tensor] : targets) target_by_key.emplace(key, &tensor);

    LoadReport report;
    std::unordered_set<std::string> seen;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, source)
    for (const auto& [given_key, source] : entries) {
        const std::string key = starts_with(given_key, "module.") ? given_key.substr(7) : given_key;
        if (starts_with(key, "fc.")) {
            report.ignored.push_back(key);
            continue;
        }
        const auto found = target_by_key.find(key);
        if (found == target_by_key.end()) {
            report.unexpected.push_back(key);
            continue;
        }
        if (!seen.insert(key).second) throw SchemaError(fmt::format("weight '{}' is given twice", key));
        const torch::Tensor& target = *found->second;
        // A one-element tensor may arrive as 0-d or [1] depending on the writer.
        const bool same_shape = target.sizes() == source.sizes() || (target.numel() == 1 && source.numel() == 1);
        if (!same_shape)
            throw SchemaError(fmt::format("shape mismatch for '{}': the model has {}, the weights have {}", key,
                                          shape_string(target), shape_string(source)));
        copies.emplace_back(target, source.reshape(target.sizes()));
        report.matched.push_back(key);
    }
    for (const auto& [key, tensor] : targets)
        if (!seen.count(key)) report.missing.push_back(key);

    torch::NoGradGuard no_grad;
    for (auto& [destination, source] : copies) destination.copy_(source);
    return report;
}

std::string LoadReport::summary() const {
    constexpr std::size_t kShown = 5;
    const auto first_keys = [&](const std::vector<std::string>& keys) {
        std::vector<std::string> shown(keys.begin(), keys.begin() + std::min(keys.size(), kShown));
        return fmt::format("{}{}", fmt::join(shown, ", "), keys.size() > kShown ? ", ..." : "");
    };
    std::string text = fmt::format("loaded {} of {} tensors; {} missing; {} unexpected; {} ignored (fc.*)",
                                   matched.size(), matched.size() + missing.size(), missing.size(),
                                   unexpected.size(), ignored.size());
    if (!missing.empty()) text += "; missing: " + first_keys(missing);
    if (!unexpected.empty()) text += "; unexpected: " + first_keys(unexpected);
    return text;
}

}  // namespace lt::models
