#include "lt/learn/retrain.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/data/samplers.hpp"
#include "lt/io/h5.hpp"
#include "lt/learn/models.hpp"
#include "lt/learn/tensor.hpp"
#include "lt/learn/train.hpp"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace lt::retrain {

namespace {

SamplerKind sampler_of(const std::string& name) {
    // Class-balanced: every class equally often (the class-aware sampler,
    // as classifier-balancing's cRT and LWS use).
    if (name == "class-balanced") return SamplerKind::class_aware;
    return parse_sampler_kind(name);
}

// The frozen classifier's logits on a batch (LWS scales them).
class FrozenLogits {
public:
    explicit FrozenLogits(const Classifier& classifier) : cosine_(classifier.kind == "cosine") {
        weights_ = to_tensor(classifier.weights);
        const auto rows = classifier.weights.rows;
        if (cosine_) {
            weights_ = torch::nn::functional::normalize(weights_, torch::nn::functional::NormalizeFuncOptions().dim(1));
            at::Tensor factor = torch::full({rows}, classifier.scale);
            if (!classifier.class_scales.empty())
                factor = factor * torch::tensor(classifier.class_scales);
            weights_ = weights_ * factor.unsqueeze(1);
        }
        bias_ = classifier.bias.empty() ? torch::zeros({rows}) : torch::tensor(classifier.bias);
    }
    at::Tensor operator()(const at::Tensor& features) const {
        torch::NoGradGuard no_grad;
        const at::Tensor x =
            cosine_ ? torch::nn::functional::normalize(features, torch::nn::functional::NormalizeFuncOptions().dim(1))
                    : features;
        return torch::addmm(bias_, x, weights_.t());
    }

private:
    bool cosine_;
    at::Tensor weights_, bias_;
};

std::vector<float> to_floats(const at::Tensor& tensor) {
    const at::Tensor flat = tensor.detach().contiguous().to(at::kFloat).view({-1});
    return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

}  // namespace

Classifier retrain(const Classifier& classifier, const Matrix& features, const std::vector<std::int64_t>& labels,
                   const Settings& settings) {
    if (settings.method != "crt" && settings.method != "lws")
        throw UsageError(fmt::format("--method: unknown method '{}' (expected crt or lws)", settings.method));
    if (features.cols != classifier.weights.cols)
        throw Error(fmt::format("dimension mismatch: the features have dimension {}, the classifier {}", features.cols,
                                classifier.weights.cols));
    const SamplerKind kind = sampler_of(settings.sampler);
    // Samples by the classifier's row of their label.
    const ClassIndex rows_of(classifier.class_ids);
    std::vector<std::int64_t> kept, targets;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const std::int64_t row = labels[i] < 0 ? ClassIndex::kNone : rows_of.row(labels[i]);
        if (row == ClassIndex::kNone) continue;
        kept.push_back(static_cast<std::int64_t>(i));
        targets.push_back(row);
    }
    if (kept.empty())
        throw Error("no feature row has a label of the classifier's classes",
                    "give the training features of the classifier's classes");
    if (kept.size() < labels.size())
        log::warn("{} of {} feature rows have a label the classifier lacks (or none); they are not used",
                  labels.size() - kept.size(), labels.size());
    // A class without a row is learned from negatives only.
    std::vector<bool> has_rows(classifier.class_ids.size(), false);
    for (std::int64_t row : targets) has_rows[static_cast<std::size_t>(row)] = true;
    std::vector<std::int64_t> unseen;
    for (std::size_t c = 0; c < has_rows.size(); ++c)
        if (!has_rows[c]) unseen.push_back(classifier.class_ids[c]);
    if (!unseen.empty()) {
        constexpr std::size_t kShown = 5;
        const std::vector<std::int64_t> shown(unseen.begin(), unseen.begin() + std::min(kShown, unseen.size()));
        log::warn("{} of the classifier's {} classes have no feature row (class {}{}); {}", unseen.size(),
                  has_rows.size(), fmt::join(shown, ", "),
                  unseen.size() > kShown ? fmt::format(", ... {} more", unseen.size() - kShown) : "",
                  settings.method == "crt"
                      ? "--method crt starts their weights anew and learns them only as negatives: they are "
                        "hardly ever predicted"
                      : "--method lws learns their scales only as negatives: they shrink");
    }

    torch::manual_seed(settings.seed);
    const at::Tensor all = to_tensor(features);
    const at::Tensor x = kept.size() == labels.size() ? all : all.index_select(0, to_tensor(kept));
    const at::Tensor y = to_tensor(targets);
    const std::int64_t classes = classifier.weights.rows;

    std::shared_ptr<models::Classifier> head;
    at::Tensor lws_scales;
    std::unique_ptr<FrozenLogits> frozen;
    std::vector<at::Tensor> parameters;
    if (settings.method == "crt") {
        if (classifier.kind == "cosine")
            head = std::make_shared<models::CosineClassifier>(classes, features.cols, classifier.scale);
        else
            head = std::make_shared<models::LinearClassifier>(classes, features.cols);
        parameters = head->parameters();
    } else {
        frozen = std::make_unique<FrozenLogits>(classifier);
        lws_scales = torch::ones({classes}).set_requires_grad(true);
        parameters = {lws_scales};
    }
    // As lt-train does: a step never leaves the cosine scale below kMinScale.
    auto* cosine_head = dynamic_cast<models::CosineClassifier*>(head.get());
    bool scale_held = false;
    torch::optim::SGD optimizer(
        parameters,
        torch::optim::SGDOptions(settings.lr).momentum(settings.momentum).weight_decay(settings.weight_decay));

    SamplerOptions sampler_options;
    sampler_options.kind = kind;
    sampler_options.seed = settings.seed;
    sampler_options.total_epochs = settings.epochs;
    const Sampler sampler(targets, sampler_options);
    const auto n = static_cast<std::int64_t>(sampler.epoch_size());
    const std::int64_t batches = (n + settings.batch_size - 1) / settings.batch_size;
    const std::int64_t total_steps = batches * settings.epochs;
    std::int64_t step = 0;
    const auto started = std::chrono::steady_clock::now();
    for (int epoch = 0; epoch < settings.epochs; ++epoch) {
        const std::vector<std::size_t> order = sampler.epoch_indices(epoch);
        std::vector<std::int64_t> index(order.begin(), order.end());
        const at::Tensor epoch_index = to_tensor(index);
        double loss_sum = 0;
        for (std::int64_t b = 0; b < batches; ++b, ++step) {
            const std::int64_t first = b * settings.batch_size, count = std::min(settings.batch_size, n - first);
            const at::Tensor batch = epoch_index.narrow(0, first, count);
            const at::Tensor inputs = x.index_select(0, batch);
            const at::Tensor logits = head ? head->forward(inputs) : (*frozen)(inputs) * lws_scales;
            const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y.index_select(0, batch));
            for (auto& group : optimizer.param_groups())
                static_cast<torch::optim::SGDOptions&>(group.options())
                    .lr(train::learning_rate(settings.lr, step, total_steps, 0));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            if (cosine_head && cosine_head->hold_scale_positive() && !scale_held) {
                scale_held = true;
                log::warn("epoch {}: a step took the cosine head's scale below {}, where it is held (--lr {} may be "
                          "too high for batches of {})",
                          epoch + 1, models::CosineClassifier::kMinScale, settings.lr, settings.batch_size);
            }
            loss_sum += loss.item<double>() * static_cast<double>(count);
        }
        if (!std::isfinite(loss_sum))
            throw Error(fmt::format("the loss is {} in epoch {}: training diverged", loss_sum, epoch + 1),
                        "lower --lr");
        log::verbose("epoch {}/{}: loss {:.4f}", epoch + 1, settings.epochs, loss_sum / static_cast<double>(n));
    }
    log::verbose("{} epochs of {} samples in {:.2f} s", settings.epochs, n,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

    Classifier out = classifier;
    out.composition.clear();
    if (head) {
        out.weights = to_matrix(head->weight().detach());
        out.bias.clear();
        out.class_scales.clear();
        if (auto* cosine = dynamic_cast<models::CosineClassifier*>(head.get())) out.scale = cosine->scale();
        else out.bias = to_floats(dynamic_cast<models::LinearClassifier&>(*head).bias());
    } else {
        const std::vector<float> g = to_floats(lws_scales);
        if (classifier.kind == "linear") {
            for (std::int64_t j = 0; j < classes; ++j) {
                float* w = out.weights.row(j);
                for (std::int64_t d = 0; d < out.weights.cols; ++d) w[d] *= g[static_cast<std::size_t>(j)];
            }
        } else {
            if (out.class_scales.empty()) out.class_scales.assign(g.size(), 1.0f);
            for (std::size_t j = 0; j < g.size(); ++j) out.class_scales[j] *= g[j];
        }
        for (std::size_t j = 0; j < out.bias.size(); ++j) out.bias[j] *= g[j];
    }
    out.adjustment = {{"adjust", settings.method}};
    // The last steps can still diverge; say so rather than leave it to the
    // writer's check.
    auto finite = [](const std::vector<float>& values) {
        return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
    };
    if (!finite(out.weights.values) || !finite(out.bias) || !finite(out.class_scales) ||
        (out.kind == "cosine" && !(std::isfinite(out.scale) && out.scale > 0)))
        throw Error("training diverged: the classifier is not finite (or its scale not > 0)", "lower --lr");
    return out;
}

void Options::add_to(CLI::App& app) {
    app.add_option("features", features, "Training features (lt-extract) the head is trained on; '-' = stdin")
        ->required()
        ->type_name("FEATS.h5");
    app.add_option("--classifier", classifier, "The classifier to rebalance: classifier, model or prototypes file")
        ->required()
        ->type_name("FILE");
    output.add_to(app, "Retrained classifier to write ('-' = stdout)");
    app.add_option("--method", settings.method, "crt: a fresh head of the classifier's kind; lws: per-class scales")
        ->check(CLI::IsMember({"crt", "lws"}))
        ->capture_default_str();
    app.add_option("--sampler", settings.sampler, "Which samples an epoch visits: class-balanced, instance, sqrt, "
                                                  "progressive")
        ->check(CLI::IsMember({"class-balanced", "instance", "sqrt", "progressive"}))
        ->capture_default_str();
    app.add_option("--epochs", settings.epochs, "Passes over the features")->check(cli::Positive)->capture_default_str();
    app.add_option("--lr", settings.lr, "Initial learning rate (cosine decay to 0)")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--batch-size", settings.batch_size, "Samples per SGD step")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--weight-decay", settings.weight_decay, "SGD weight decay")
        ->check(cli::NonNegative)
        ->capture_default_str();
    seed.add_to(app);
}

void run(const Options& options, const Compute& compute) {
    cli::require_one_stdin_input({{"the features", options.features}, {"--classifier", options.classifier}});
    use_threads(compute.threads);
    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "lt-retrain");
    const FeaturesReader reader(options.features);
    Matrix features(reader.rows(), reader.dim());
    reader.read(0, reader.rows(), features.values.data());
    Settings settings = options.settings;
    settings.seed = options.seed.seed;
    const Classifier retrained = retrain(classifier, features, reader.labels(), settings);
    h5::OutputFile out(options.output.path, "classifier");
    write_classifier_group(out, retrained);
    out.commit();
}

}  // namespace lt::retrain
