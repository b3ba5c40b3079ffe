#include "lt/learn/train.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/data/loader.hpp"
#include "lt/data/samplers.hpp"
#include "lt/image/images.hpp"
#include "lt/image/transforms.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/model_layout.hpp"
#include "lt/io/schema.hpp"
#include "lt/learn/data_parallel.hpp"
#include "lt/learn/distributed.hpp"
#include "lt/learn/memory.hpp"
#include "lt/learn/model_file.hpp"
#include "lt/learn/models.hpp"
#include "lt/learn/precision.hpp"
#include "lt/learn/recipes.hpp"
#include "lt/learn/weights.hpp"
#include "lt/learn/tensor.hpp"

#include <torch/utils.h>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <fstream>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <numeric>

namespace lt::train {

void Options::add_to(CLI::App& app) {
    recipes::add_config_option(app);
    app.add_option("--train-list", train_list,
                   "Training list file (<path> <label> per line; a path alone with --loss simclr)")
        ->required()
        ->type_name("LIST");
    app.add_option("--root", root, "Folder the lists' image paths are relative to")->required()->type_name("DIR");
    output.add_to(app, "Model file; also the checkpoint, rewritten after every epoch");
    app.add_option("--val-list", val_list, "Validation list: top-1 and many/medium/few after every epoch")
        ->type_name("LIST");
    app.add_option("--arch", arch, "Backbone architecture")
        ->check(CLI::IsMember(models::arch_names()))
        ->capture_default_str();
    app.add_option("--head", head, "Classifier head")
        ->check(CLI::IsMember({"cosine", "linear"}))
        ->capture_default_str();
    cli::add_deprecated_alias(app, "--classifier", "--head", head);
    app.add_option("--sampler", sampler, "Which images an epoch visits: instance, sqrt, class-aware, progressive")
        ->capture_default_str();
    app.add_option("--loss", loss,
                   "Training loss (balanced-softmax adds log n_j to the logits; simclr: contrastive "
                   "pretraining without labels)")
        ->check(CLI::IsMember({"ce", "balanced-softmax", "simclr"}))
        ->capture_default_str();
    app.add_option("--temperature", temperature, "NT-Xent temperature of --loss simclr")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--epochs", epochs, "Epochs to train for in all (a resumed run continues up to it)")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--batch-size", batch_size, "Images per step, over all the processes of a data-parallel job")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--micro-batches", micro_batches,
                   "Split each process's images of a step into M micro-batches whose gradients add up")
        ->check(cli::Positive)
        ->type_name("M")
        ->capture_default_str();
    app.add_flag("--sync-bn", sync_bn,
                 "In a data-parallel job, BatchNorm statistics over the images of all processes (default: per process)");
    app.add_option("--lr", lr, "Learning rate of the classifier (and of the backbone unless --lr-backbone)")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--lr-backbone", lr_backbone, "Learning rate of the backbone (default: --lr)")
        ->check(cli::NonNegative)
        ->type_name("X");
    app.add_option("--momentum", momentum, "SGD momentum")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--weight-decay", weight_decay, "L2 weight decay of every parameter")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--warmup-epochs", warmup_epochs, "Linear learning-rate warm-up before the cosine decay")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--preset", preset, "Transforms: imagenet (224 px) or small (28-32 px images)")
        ->check(CLI::IsMember({"imagenet", "small"}))
        ->capture_default_str();
    app.add_option("--image-size", image_size, "Side of the network's input (0: 224 for imagenet, 32 for small)")
        ->check(cli::ImageSide)
        ->capture_default_str();
    app.add_option("--init", init, "Initial backbone weights with torchvision names (the classifier is always new)")
        ->type_name("WEIGHTS.h5");
    app.add_flag("--resume", resume, "Continue the run checkpointed in the -o file (from scratch if it is missing)");
    app.add_option("--log", log, "Write one JSON object per epoch to FILE ('-' = stdout)")
        ->check(cli::OutputPath)
        ->type_name("FILE.jsonl");
    seed.add_to(app);
    dist_timeout.add_to(app);
}

double learning_rate(double base, std::int64_t step, std::int64_t total_steps, std::int64_t warmup_steps) {
    if (step < warmup_steps) return base * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const std::int64_t decay_steps = total_steps - warmup_steps;
    if (decay_steps <= 0) return base;
    const double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps);
    return base * 0.5 * (1.0 + std::cos(M_PI * progress));
}

at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& targets,
                               const at::Tensor& log_class_counts) {
    const at::Tensor adjusted = log_class_counts.defined() ? logits + log_class_counts : logits;
    return at::nll_loss(at::log_softmax(adjusted, 1), targets);
}

at::Tensor nt_xent_loss(const at::Tensor& first, const at::Tensor& second, double temperature) {
    const std::int64_t n = first.size(0);
    const at::Tensor both = at::cat({first, second});
    const at::Tensor z = both.div(both.norm(2, 1, true).clamp_min(1e-12));
    // An anchor is never its own negative: its similarity drops out of the softmax.
    const at::Tensor self = at::eye(2 * n, z.options().dtype(at::kBool));
    const at::Tensor similarities = at::mm(z, z.t()).div(temperature).masked_fill(self, -INFINITY);
    const at::Tensor positives = at::cat({at::arange(n, 2 * n), at::arange(0, n)}).to(z.device());
    return at::nll_loss(at::log_softmax(similarities, 1), positives);
}

namespace {

// The classes of the training list: the classifier has one row per class
// present, in increasing class id (global label).
struct TrainingClasses {
    std::vector<std::int64_t> ids, counts;
    std::vector<std::int64_t> row_of_label;  // indexed by label; -1 for an absent class

    explicit TrainingClasses(const std::vector<ListEntry>& entries) {
        const std::vector<std::int64_t> by_label = class_counts(entries);
        row_of_label.assign(by_label.size(), -1);
        for (std::size_t label = 0; label < by_label.size(); ++label) {
            if (by_label[label] == 0) continue;
            row_of_label[label] = static_cast<std::int64_t>(ids.size());
            ids.push_back(static_cast<std::int64_t>(label));
            counts.push_back(by_label[label]);
        }
    }
    std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }
    std::int64_t count_of(std::int64_t label) const {
        if (label < 0 || label >= static_cast<std::int64_t>(row_of_label.size())) return 0;
        const std::int64_t row = row_of_label[static_cast<std::size_t>(label)];
        return row < 0 ? 0 : counts[static_cast<std::size_t>(row)];
    }
};

std::string list_fingerprint(const std::vector<ListEntry>& entries) {
    const std::string text = format_list(entries);
    return fmt::format("{:016x}", weights::fnv1a(text.data(), text.size()));
}

// SGD as torch.optim.SGD computes it (dampening 0, no Nesterov), with the
// momentum buffers kept by parameter name so that a checkpoint holds them.
class MomentumSgd {
public:
    MomentumSgd(double momentum, double weight_decay) : momentum_(momentum), weight_decay_(weight_decay) {}

    // Parameters of module, prefixed, updated with the rate of group.
    void add_group(const torch::nn::Module& module, const std::string& prefix, int group) {
        for (const auto& item : module.named_parameters())
            slots_.push_back({prefix + item.key(), item.value(), torch::zeros_like(item.value()), group});
    }

    void step(const std::vector<double>& group_rates) {
        torch::NoGradGuard no_grad;
        for (Slot& slot : slots_) {
            const at::Tensor& grad = slot.parameter.grad();
            if (!grad.defined()) continue;
            at::Tensor direction = weight_decay_ != 0 ? grad.add(slot.parameter, weight_decay_) : grad;
            slot.momentum.mul_(momentum_).add_(direction);
            slot.parameter.add_(slot.momentum, -group_rates.at(static_cast<std::size_t>(slot.group)));
        }
    }

    models::StateDict buffers() const {
        models::StateDict entries;
        for (const Slot& slot : slots_) entries.emplace_back(slot.name, slot.momentum);
        return entries;
    }

    void load(const models::StateDict& entries, const std::string& where) {
        std::map<std::string, const at::Tensor*> given;
        for (const auto& [name, tensor] : entries) given[name] = &tensor;
        torch::NoGradGuard no_grad;
        for (Slot& slot : slots_) {
            auto found = given.find(slot.name);
            if (found == given.end()) throw SchemaError(fmt::format("{} lacks {}", where, slot.name));
            if (found->second->numel() != slot.momentum.numel())
                throw SchemaError(fmt::format("{}: {} has the wrong shape", where, slot.name));
            slot.momentum.copy_(found->second->reshape(slot.momentum.sizes()));
            given.erase(found);
        }
        if (!given.empty())
            throw SchemaError(fmt::format("{} has {}, which the model does not", where, given.begin()->first));
    }

private:
    struct Slot {
        std::string name;
        at::Tensor parameter, momentum;
        int group;
    };
    double momentum_, weight_decay_;
    std::vector<Slot> slots_;
};

enum RateGroup { kBackboneRate = 0, kClassifierRate = 1 };

double backbone_rate(const Options& options) { return options.lr_backbone < 0 ? options.lr : options.lr_backbone; }

bool contrastive(const Options& options) { return options.loss == "simclr"; }

// Labels are unknown to contrastive pretraining: every image once per epoch.
SamplerKind sampler_kind(const Options& options) {
    return contrastive(options) ? SamplerKind::instance : parse_sampler_kind(options.sampler);
}

constexpr const char* kTrainListHash = "train_list_hash";

// The options that define the computation: recorded on the model's root and
// required to be the same when a run is resumed. The number of processes and
// of micro-batches is not among them: each step sees the same images.
std::vector<model_file::Setting> run_settings(const Options& options, const ImageTransform& transform,
                                              const std::string& train_list_hash) {
    std::vector<model_file::Setting> settings = {
            {model_layout::kArch, options.arch},
            {"head", contrastive(options) ? "projection" : options.head},
            {"sampler", sampler_name(sampler_kind(options))},
            {"loss", options.loss},
            {"batch_size", std::int64_t{options.batch_size}},
            {"lr", options.lr},
            {"lr_backbone", backbone_rate(options)},
            {"momentum", options.momentum},
            {"weight_decay", options.weight_decay},
            {"warmup_epochs", options.warmup_epochs},
            {model_layout::kPreset, options.preset},
            {model_layout::kImageSize, std::int64_t{transform.size}},
            {"seed", static_cast<std::int64_t>(options.seed.seed)},
            {kTrainListHash, train_list_hash}};
    if (contrastive(options)) settings.push_back({"temperature", options.temperature});
    return settings;
}

// Everything training needs, built once.
struct Run {
    const Options& options;
    dist::Group& group;
    at::Device device;
    ImageDataset train_data;
    TrainingClasses classes;
    ImageTransform train_transform;
    std::vector<model_file::Setting> settings;
    std::shared_ptr<models::Model> model;                    // a classifier's training
    std::shared_ptr<models::ContrastiveModel> contrastive;  // --loss simclr
    MomentumSgd sgd;
    std::unique_ptr<dist::GradientBuckets> buckets;  // a job of several processes only
    precision::Settings precision;                   // --amp, channels_last (lt/learn/precision.hpp)
    precision::LossScaler scaler;                    // --amp fp16 only
    std::string init;        // the --init the weights started from (a resumed run: the checkpoint's)
    models::CosineClassifier* cosine = nullptr;  // the model's classifier when it is one
    bool scale_held = false;                     // its scale was held at kMinScale (warned once)
    int first_epoch = 0;     // epochs already done
    std::int64_t step = 0;   // optimizer steps already done
    std::int64_t total_steps = 0, warmup_steps = 0;
    at::Tensor row_of_label;  // label -> classifier row
    at::Tensor log_counts;    // log n_j by row, on the device (balanced softmax only)

    Run(const Options& options_, dist::Group& group_, const precision::Settings& precision_)
        : options(options_),
          group(group_),
          device(precision_.device),
          train_data(open_image_dataset(options_.train_list, options_.root,
                                        lt::train::contrastive(options_) ? Labels::optional : Labels::required)),
          classes(train_data.entries),
          train_transform(lt::train::contrastive(options_)
                              ? contrastive_transform(options_.preset, options_.image_size)
                              : image_transform(options_.preset, true, options_.image_size)),
          settings(run_settings(options_, train_transform, list_fingerprint(train_data.entries))),
          sgd(options_.momentum, options_.weight_decay),
          precision(precision_),
          scaler(precision_.loss_scaling),
          init(options_.init),
          total_steps(options_.epochs * steps_per_epoch()),
          // Capped where llround would leave 64 bits: the rates of such a
          // warm-up are all but 0 anyway.
          warmup_steps(std::llround(std::min(options_.warmup_epochs * static_cast<double>(steps_per_epoch()), 0x1p62))),
          row_of_label(to_tensor(classes.row_of_label)) {
        if (options.loss == "balanced-softmax")
            log_counts = to_tensor(classes.counts).to(at::kFloat).log().to(device);
    }

    std::int64_t steps_per_epoch() const {
        return static_cast<std::int64_t>(train_data.size()) / options.batch_size;
    }
    // Images of a step that this process computes, and of each micro-batch.
    std::int64_t rank_batch() const { return options.batch_size / group.size(); }
    std::int64_t micro_batch() const { return rank_batch() / options.micro_batches; }
    bool sync_bn() const { return options.sync_bn && group.distributed(); }
    std::int64_t batch_norm_batch() const {
        return sync_bn() ? options.batch_size / options.micro_batches : micro_batch();
    }
    double rate(double base) const { return learning_rate(base, step, total_steps, warmup_steps); }

    // The module trained: backbone with classifier, or with projection head.
    torch::nn::Module& trained() const {
        return contrastive ? static_cast<torch::nn::Module&>(*contrastive) : *model;
    }
    models::Backbone& backbone() const { return contrastive ? *contrastive->backbone() : *model->backbone(); }
};

// ---- checkpoints

void write_checkpoint(const Run& run, int epochs_done) {
    const Options& options = run.options;
    model_file::Checkpoint checkpoint;
    checkpoint.model = run.model.get();
    checkpoint.contrastive = run.contrastive.get();
    checkpoint.class_ids = run.classes.ids;
    checkpoint.class_counts = run.classes.counts;
    checkpoint.attributes = run.settings;
    checkpoint.attributes.push_back({model_layout::kEpoch, std::int64_t{epochs_done}});
    checkpoint.attributes.push_back({model_layout::kEpochs, std::int64_t{options.epochs}});
    checkpoint.attributes.push_back({model_layout::kTrainList, options.train_list});
    checkpoint.attributes.push_back({model_layout::kRoot, options.root});
    if (!options.val_list.empty()) checkpoint.attributes.push_back({model_layout::kValList, options.val_list});
    if (!run.init.empty()) checkpoint.attributes.push_back({model_layout::kInit, run.init});
    model_file::TrainState& state = checkpoint.state;
    state.epoch = epochs_done;
    state.step = run.step;
    state.momentum = run.sgd.buffers();
    state.world_size = run.group.size();
    state.micro_batches = options.micro_batches;
    state.sync_bn = run.sync_bn();
    state.batch_norm_batch = run.batch_norm_batch();
    model_file::write(options.output.path, checkpoint);
}

void check_resumable(const h5::InputFile& in, const std::vector<model_file::Setting>& settings) {
    if (!model_file::has_train_state(in))
        throw Error(fmt::format("{} has no /{}: it is not an lt-train checkpoint", in.file_name(),
                                model_layout::kTrainState),
                    "drop --resume to train from scratch");
    for (const model_file::Setting& setting : settings) {
        if (!in.has_attr(setting.name))
            throw SchemaError(fmt::format("{} does not record {}; cannot resume it", in.file_name(), setting.name));
        const std::string stored = setting.stored_text(in);
        // Two hashes would tell the user nothing: name the list it was trained on.
        if (stored != setting.text() && setting.name == kTrainListHash)
            throw UsageError(fmt::format("cannot resume {}: it was trained on another training list (or on {} as it "
                                         "was then: its lines differ now)",
                                         in.file_name(),
                                         in.has_attr(model_layout::kTrainList) ? in.attr_string(model_layout::kTrainList)
                                                                               : "a list"),
                             "resume with the list of the interrupted run, or drop --resume to start over");
        if (stored != setting.text())
            throw UsageError(fmt::format("cannot resume {}: it was trained with {} {}, not {}", in.file_name(),
                                         setting.name, stored, setting.text()),
                             "resume with the options of the interrupted run, or drop --resume to start over");
    }
}

// Restores weights, optimizer state and progress from the checkpoint (rank 0
// reads it; the others receive it with the initial broadcast).
void restore_checkpoint(Run& run) {
    const std::string& path = run.options.output.path;
    const std::unique_ptr<h5::InputFile> in = model_file::open(path);
    check_resumable(*in, run.settings);
    if (run.contrastive)
        model_file::read_weights(*in, *run.contrastive);
    else
        model_file::read_weights(*in, *run.model, run.classes.ids);
    run.init = in->has_attr(model_layout::kInit) ? in->attr_string(model_layout::kInit) : "";
    if (!run.options.init.empty() && run.options.init != run.init)
        log::warn("--init {} is not used: the run resumes from {}, whose weights started from {}", run.options.init,
                  path, run.init.empty() ? "its seed" : run.init);
    const model_file::TrainState state = model_file::read_train_state(*in);
    run.sgd.load(state.momentum, fmt::format("{}:/{}/{}", path, model_layout::kTrainState, model_layout::kMomentum));
    run.first_epoch = static_cast<int>(state.epoch);
    run.step = state.step;
    if (run.step != run.first_epoch * run.steps_per_epoch())
        throw SchemaError(fmt::format("{}: /{} has step {} after {} epochs of {} steps", path,
                                      model_layout::kTrainState, run.step, run.first_epoch, run.steps_per_epoch()));
    if (state.world_size != run.group.size() || state.micro_batches != run.options.micro_batches ||
        state.sync_bn != run.sync_bn())
        log::info("{} was written by {} process(es) with {} micro-batch(es) of a step{}; continuing with {} and {}{} "
                  "(the same images per step; BatchNorm statistics now come from batches of {} images)",
                  path, state.world_size, state.micro_batches, state.sync_bn ? " and --sync-bn" : "", run.group.size(),
                  run.options.micro_batches, run.sync_bn() ? " and --sync-bn" : "", run.batch_norm_batch());
}

bool file_exists(const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0;
}

// Samplers that draw with replacement may not visit every image for a long
// time: a missing file is reported now rather than hours into a run. An
// output (-o, --log) may not be one of the images.
void check_images_exist(const ImageDataset& dataset, const std::vector<std::string>& outputs) {
    for (std::size_t i = 0; i < dataset.size(); ++i) {
        const std::string path = dataset.image_path(i);
        struct stat info {};
        const char* problem = stat(path.c_str(), &info) != 0 ? std::strerror(errno)
                              : S_ISREG(info.st_mode)        ? nullptr
                                                             : "not a regular file";
        if (problem)
            throw Error(fmt::format("cannot read image '{}': {} ({} line {})", path, problem, dataset.list_name,
                                    dataset.entries[i].line),
                        "lt-data check LIST --root DIR decodes every image of a list");
    }
    refuse_outputs_among_images(dataset, outputs, 0, dataset.size());
}

// ---- validation

// A validation class the training list lacks has no classifier row: its
// images can only be errors, and its training count of 0 puts it among the
// few-shot classes, as lt-eval scores it (and says so).
void warn_of_untrained_classes(const ImageDataset& val_data, const TrainingClasses& classes) {
    const std::vector<std::int64_t> by_label = class_counts(val_data.entries);
    std::vector<std::int64_t> untrained;
    std::int64_t images = 0;
    for (std::size_t label = 0; label < by_label.size(); ++label) {
        if (by_label[label] == 0 || classes.count_of(static_cast<std::int64_t>(label)) > 0) continue;
        untrained.push_back(static_cast<std::int64_t>(label));
        images += by_label[label];
    }
    if (untrained.empty()) return;
    log::warn("{}: {} class{} ({} of {} images) not in the training list, id{} {}: counted as errors (accuracy 0) "
              "in val top-1 and among the few-shot classes",
              val_data.list_name, untrained.size(), untrained.size() == 1 ? "" : "es", images, val_data.size(),
              untrained.size() == 1 ? "" : "s", log::some_of(untrained));
}

struct Validation {
    double top1 = 0, many = 0, medium = 0, few = 0;  // percent; NaN for a group without classes
};

// The validation images of this process: its contiguous share of the list.
std::vector<std::size_t> validation_share(std::size_t images, const dist::Group& group) {
    const std::size_t first = images * static_cast<std::size_t>(group.rank()) / group.size();
    const std::size_t end = images * static_cast<std::size_t>(group.rank() + 1) / group.size();
    std::vector<std::size_t> share(end - first);
    std::iota(share.begin(), share.end(), first);
    return share;
}

// Top-1 over all images, and per shot group (by TRAINING count) the mean of
// the per-class accuracies, as lt-eval computes them. Each process counts
// the hits of its share of the list; the counts are summed over the job.
Validation validate(Run& run, BatchLoader& loader) {
    torch::NoGradGuard no_grad;
    models::Model& model = *run.model;
    model.eval();
    const std::vector<ListEntry>& entries = loader.dataset().entries;
    std::int64_t lowest = 0, highest = 0;
    for (const ListEntry& entry : entries) {
        lowest = std::min(lowest, entry.label);
        highest = std::max(highest, entry.label);
    }
    const std::int64_t labels = highest - lowest + 1;
    at::Tensor tally = torch::zeros({2, labels}, torch::kLong);  // (hits, images) by label - lowest
    auto* hits = tally.data_ptr<std::int64_t>();
    auto* seen = hits + labels;
    loader.start_epoch(validation_share(entries.size(), run.group), 0);
    const at::Tensor row_to_id = to_tensor(run.classes.ids);
    Batch batch;
    while (loader.next(batch)) {
        const auto n = static_cast<std::int64_t>(batch.size());
        const at::Tensor images = precision::input(precision::batch_images(batch, run.device), run.precision);
        at::Tensor logits;
        {
            precision::Autocast autocast(run.precision);
            logits = model.forward(images);
        }
        at::Tensor predicted = row_to_id.index_select(0, logits.argmax(1).to(at::kCPU));
        const auto* ids = predicted.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t label = batch.labels[static_cast<std::size_t>(i)];
            hits[label - lowest] += ids[i] == label;
            ++seen[label - lowest];
        }
    }
    model.train();
    if (run.group.distributed()) {
        at::Tensor on_device = tally.to(run.device);
        run.group.allreduce_sum({on_device});
        tally.copy_(on_device);
    }

    const GroupThresholds thresholds;
    double group_sum[3] = {0, 0, 0}, group_classes[3] = {0, 0, 0};
    std::int64_t correct = 0, images = 0;
    for (std::int64_t i = 0; i < labels; ++i) {
        if (seen[i] == 0) continue;
        correct += hits[i];
        images += seen[i];
        const auto group = static_cast<int>(thresholds.of(run.classes.count_of(i + lowest)));
        group_sum[group] += static_cast<double>(hits[i]) / static_cast<double>(seen[i]);
        group_classes[group] += 1;
    }
    const auto mean = [&](int group) {
        return group_classes[group] > 0 ? 100 * group_sum[group] / group_classes[group]
                                        : std::numeric_limits<double>::quiet_NaN();
    };
    return {100.0 * static_cast<double>(correct) / static_cast<double>(images), mean(0), mean(1), mean(2)};
}

// The model is first written after a whole epoch: a folder that cannot take
// it is reported before training.
void check_output_folder(const std::string& path) {
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    const std::string name = folder.empty() ? "." : folder.string();
    if (access(name.c_str(), W_OK) != 0)
        throw Error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

// ---- the per-epoch log

std::string json_number(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

// The file is checked when training starts but opened only for the first
// epoch's line: a run that fails before that leaves an earlier log as it was.
class EpochLog {
public:
    EpochLog(const std::string& path, bool append) : path_(path), to_stdout_(path == "-"), append_(append) {
        if (path.empty() || to_stdout_) return;
        check_not_an_input(path);
        check_output_folder(path);
        if (access(path.c_str(), F_OK) == 0 && access(path.c_str(), W_OK) != 0)
            throw Error(fmt::format("cannot write the log {}: {}", path, std::strerror(errno)));
    }
    void write(const std::string& line) {
        errno = 0;
        if (to_stdout_) {
            if (std::fputs((line + "\n").c_str(), stdout) < 0 || std::fflush(stdout) != 0)
                throw Error(fmt::format("cannot write the log to standard output: {}", std::strerror(errno)));
            return;
        }
        if (path_.empty()) return;
        if (!file_.is_open()) {
            file_.open(path_, append_ ? std::ios::app : std::ios::trunc);
            if (!file_) throw Error(fmt::format("cannot write the log {}: {}", path_, std::strerror(errno)));
        }
        file_ << line << '\n' << std::flush;
        if (!file_) throw Error(fmt::format("cannot write the log {}: {}", path_, std::strerror(errno)));
    }

private:
    std::string path_;
    bool to_stdout_, append_;
    std::ofstream file_;
};

// ---- one epoch, and its report

struct EpochResult {
    double loss = 0, rate = 0, rate_backbone = 0;  // mean loss; the rates of the last step
    double seconds = 0, images_per_second = 0;
};

// This process's share of the epoch: of every batch of the sampler's
// sequence, the rank_batch images from rank * rank_batch on, with their
// positions in the whole epoch (which seed their augmentations).
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> epoch_share(const Run& run,
                                                                          const std::vector<std::size_t>& sequence) {
    const auto batch = static_cast<std::size_t>(run.options.batch_size);
    const auto share = static_cast<std::size_t>(run.rank_batch());
    const std::size_t offset = share * static_cast<std::size_t>(run.group.rank());
    std::vector<std::size_t> order, positions;
    for (std::size_t step = 0; step < static_cast<std::size_t>(run.steps_per_epoch()); ++step)
        for (std::size_t i = 0; i < share; ++i) {
            const std::size_t position = step * batch + offset + i;
            order.push_back(sequence[position]);
            positions.push_back(position);
        }
    return {std::move(order), std::move(positions)};
}

// A micro-batch's loss. images [n, 3, H, W], or with --loss simclr [n, 2,
// 3, H, W] (two views of each image): both views go through the network in
// one pass (BatchNorm sees all 2n), and the negatives are the micro-batch's
// other images (lt-train(1), Contrastive pretraining).
// Under --amp only the forward pass is autocast; the loss is computed in float32.
at::Tensor micro_batch_loss(Run& run, const at::Tensor& images, const at::Tensor& targets) {
    if (!run.contrastive) {
        at::Tensor logits;
        {
            precision::Autocast autocast(run.precision);
            logits = run.model->forward(images);
        }
        return classification_loss(logits.to(at::kFloat), targets, run.log_counts);
    }
    const std::int64_t n = images.size(0);
    const at::Tensor views = precision::input(
        images.transpose(0, 1).reshape({2 * n, images.size(2), images.size(3), images.size(4)}), run.precision);
    at::Tensor projections;
    {
        precision::Autocast autocast(run.precision);
        projections = run.contrastive->forward(views);
    }
    projections = projections.to(at::kFloat);
    return nt_xent_loss(projections.narrow(0, 0, n), projections.narrow(0, n, n), run.options.temperature);
}

// One optimizer step on this process's images of a batch: M micro-batches
// whose gradients add up (each loss divided by M), averaged over the
// processes by the buckets during the last backward pass. Returns the
// step's mean loss over the whole batch. Under --amp the forward pass is
// autocast; with fp16 the backward pass runs on the scaled loss and a step
// whose gradients overflowed is skipped (precision::LossScaler).
double train_step(Run& run, const at::Tensor& images, const at::Tensor& targets, const std::vector<double>& rates) {
    const int micro_batches = run.options.micro_batches;
    const std::int64_t size = run.micro_batch();
    run.trained().zero_grad();
    double loss_sum = 0;
    for (int k = 0; k < micro_batches; ++k) {
        at::Tensor loss = micro_batch_loss(run, images.narrow(0, k * size, size),
                                           targets.defined() ? targets.narrow(0, k * size, size) : targets);
        if (micro_batches > 1) loss = loss / micro_batches;
        loss_sum += loss.item<double>();
        if (run.buckets && k + 1 == micro_batches) run.buckets->arm(/*accumulated=*/micro_batches > 1, loss_sum);
        run.scaler.scale(loss).backward();
    }
    const double loss = run.buckets ? run.buckets->finish() : loss_sum;
    if (run.scaler.unscale(run.trained().parameters())) run.sgd.step(rates);
    run.scaler.update();
    return loss;
}

EpochResult train_epoch(Run& run, BatchLoader& loader, const Sampler& sampler, int epoch) {
    const Options& options = run.options;
    const auto started = std::chrono::steady_clock::now();
    auto [order, positions] = epoch_share(run, sampler.epoch_indices(epoch));
    loader.start_epoch(std::move(order), static_cast<std::uint64_t>(epoch), std::move(positions));
    Progress progress(fmt::format("epoch {}/{}", epoch + 1, options.epochs),
                      run.steps_per_epoch() * options.batch_size, "images");
    EpochResult result;
    double loss_sum = 0;
    std::int64_t batches = 0;
    Batch batch;
    while (loader.next(batch)) {
        const auto n = static_cast<std::int64_t>(batch.size());
        result.rate = run.rate(options.lr);
        result.rate_backbone = run.rate(backbone_rate(options));
        // [N, 3, H, W]; [N, 2, 3, H, W] (two views of each image) for contrastive training
        at::Tensor images = precision::batch_images(batch, run.device, run.contrastive ? 2 : 1);
        if (!run.contrastive) images = precision::input(images, run.precision);
        at::Tensor targets;  // none for contrastive training
        if (!run.contrastive) targets = run.row_of_label.index_select(0, to_tensor(batch.labels)).to(run.device);
        const double value = train_step(run, images, targets, {result.rate_backbone, result.rate});
        if (run.cosine && run.cosine->hold_scale_positive() && !run.scale_held) {
            run.scale_held = true;
            log::warn("epoch {}, step {}: a step took the cosine classifier's scale below {}, where it is held (the "
                      "learning rate {:.4g} may be too high for batches of {})",
                      epoch + 1, run.step + 1, models::CosineClassifier::kMinScale, result.rate, options.batch_size);
        }
        if (!std::isfinite(value))
            throw Error(fmt::format("the loss is {} at epoch {}, step {}", value, epoch + 1, run.step + 1),
                        "lower --lr");
        loss_sum += value;
        ++batches;
        ++run.step;
        progress.set_suffix(fmt::format("loss {:.4f}", loss_sum / static_cast<double>(batches)));
        progress.advance(n * run.group.size());
    }
    progress.finish();
    result.loss = loss_sum / static_cast<double>(batches);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.images_per_second = static_cast<double>(batches * options.batch_size) / result.seconds;
    return result;
}

std::string group_text(double value) { return std::isfinite(value) ? fmt::format("{:.1f}", value) : "-"; }

void check_usage(const Options& options, const dist::Launch& launch) {
    if (options.train_list == "-" || options.val_list == "-")
        throw UsageError("the lists must be files, not '-': training reads the images every epoch, and "
                         "--resume checks the list against the checkpoint");
    if (options.output.path == "-")
        throw UsageError("-o must be a file, not '-': the model file is also the checkpoint, rewritten after "
                         "every epoch");
    cli::require_distinct_outputs({{"-o", options.output.path}, {"--log", options.log}});
    parse_sampler_kind(options.sampler);
    if (contrastive(options) && !options.val_list.empty())
        throw UsageError("--val-list needs a classifier, which --loss simclr does not train",
                         "drop --val-list; evaluate the backbone with lt-extract, lt-protos and lt-eval");
    const int parts = launch.world_size * options.micro_batches;
    // NT-Xent contrasts each image with the other images of its micro-batch:
    // one alone has no negative, and its loss is 0 whatever the network does.
    if (contrastive(options) && options.batch_size % parts == 0 && options.batch_size / parts < 2)
        throw UsageError(fmt::format("--loss simclr needs 2 or more images per micro-batch; --batch-size {} over {} "
                                     "process{} and {} micro-batch{} leaves 1",
                                     options.batch_size, launch.world_size, launch.world_size == 1 ? "" : "es",
                                     options.micro_batches, options.micro_batches == 1 ? "" : "es"),
                         fmt::format("use --batch-size {} or more", 2 * parts));
    if (options.batch_size % parts != 0) {
        const std::string split =
            launch.world_size > 1
                ? fmt::format("{} processes{}", launch.world_size,
                              options.micro_batches > 1 ? fmt::format(" x {} micro-batches", options.micro_batches) : "")
                : fmt::format("{} micro-batches", options.micro_batches);
        throw UsageError(fmt::format("--batch-size {} does not split evenly into {}", options.batch_size, split),
                         fmt::format("use a multiple of {}, e.g. --batch-size {}", parts,
                                     std::max(parts, options.batch_size / parts * parts)));
    }
}

// Rank 0's weights, buffers, optimizer state and progress (from --init, the
// checkpoint or its seed) to every process.
void share_start(Run& run) {
    if (!run.group.distributed()) return;
    std::vector<at::Tensor> tensors;
    for (const auto& entry : models::state_dict(run.trained())) tensors.push_back(entry.second);
    for (const auto& entry : run.sgd.buffers()) tensors.push_back(entry.second);
    at::Tensor progress = torch::tensor({std::int64_t{run.first_epoch}, run.step}, torch::kLong).to(run.device);
    tensors.push_back(progress);
    run.group.broadcast(tensors);
    const at::Tensor on_cpu = progress.to(at::kCPU);
    run.first_epoch = static_cast<int>(on_cpu[0].item<std::int64_t>());
    run.step = on_cpu[1].item<std::int64_t>();
}

// Every process must train the same computation on the same list: rank 0's
// fingerprint of the run settings against each process's own.
void check_same_run(Run& run) {
    if (!run.group.distributed()) return;
    std::string text = fmt::format("{} {} {}", run.group.size(), run.options.micro_batches, run.sync_bn());
    for (const model_file::Setting& setting : run.settings) text += "\n" + setting.name + "=" + setting.text();
    if (!run.group.same_as_root(text))
        throw Error(fmt::format("rank {} of {} trains with other options or another training list than rank 0",
                                run.group.rank(), run.group.size()),
                    "give every process the same command line and the same list file");
}

void train(const Options& options, const Compute& compute, dist::Group& group,
           const precision::Settings& precision_settings) {
    Run run(options, group, precision_settings);
    check_images_exist(run.train_data, {options.output.path, options.log});
    const std::int64_t images = static_cast<std::int64_t>(run.train_data.size());
    if (images < options.batch_size)
        throw Error(fmt::format("the batch size {} is larger than the {} training images", options.batch_size, images),
                    fmt::format("use --batch-size {} or less", images));
    check_same_run(run);

    // The initial weights come from the seed alone; a resumed run overwrites them.
    torch::manual_seed(options.seed.seed);
    if (contrastive(options)) {
        run.contrastive = std::make_shared<models::ContrastiveModel>(options.arch);
        run.contrastive->to(run.device);
        precision::prepare(*run.contrastive, run.precision);
        run.sgd.add_group(*run.contrastive->backbone(), "backbone.", kBackboneRate);
        run.sgd.add_group(*run.contrastive->projection(), "projection.", kClassifierRate);
    } else {
        if (run.classes.size() == 0) throw Error(fmt::format("{} has no labelled image", options.train_list));
        if (run.classes.size() == 1)
            log::warn("{} has one class ({}): a softmax over one class has loss 0, so nothing is learnt",
                      options.train_list, run.classes.ids.front());
        run.model = std::make_shared<models::Model>(options.arch, run.classes.size(),
                                                    models::parse_classifier_kind(options.head));
        run.model->to(run.device);
        precision::prepare(*run.model, run.precision);
        run.cosine = dynamic_cast<models::CosineClassifier*>(run.model->classifier().get());
        run.sgd.add_group(*run.model->backbone(), "backbone.", kBackboneRate);
        run.sgd.add_group(*run.model->classifier(), "classifier.", kClassifierRate);
    }

    const bool resuming = options.resume && file_exists(options.output.path);
    if (group.is_root()) {
        if (resuming) {
            allow_replacing(options.output.path);  // the checkpoint is read, then updated every epoch
            restore_checkpoint(run);
            log::info("resuming {} after epoch {} of {}", options.output.path, run.first_epoch, options.epochs);
        } else {
            if (options.resume) log::info("no checkpoint {} yet; starting from scratch", options.output.path);
            if (!options.init.empty()) {
                const models::LoadReport report = weights::load_init(run.backbone(), options.init);
                log::info("--init {}: {}", options.init, report.summary());
                if (!report.missing.empty() || !report.unexpected.empty())
                    log::warn("--init {}: {} missing and {} unexpected weights", options.init, report.missing.size(),
                              report.unexpected.size());
            }
        }
    }
    share_start(run);
    if (run.first_epoch >= options.epochs) {
        log::info("{} is already trained for {} epochs; nothing to do", options.output.path, run.first_epoch);
        return;
    }
    run.trained().train();
    if (options.sync_bn && !run.group.distributed())
        log::warn("--sync-bn does nothing in a single process (it synchronises the processes of a launched job)");
    if (options.warmup_epochs > 0 && options.warmup_epochs >= options.epochs)
        log::warn("--warmup-epochs {} is not below --epochs {}: the learning rate never decays",
                  options.warmup_epochs, options.epochs);
    if (run.group.distributed()) {
        run.buckets = std::make_unique<dist::GradientBuckets>(run.trained().parameters(), run.group);
        if (run.sync_bn())
            run.backbone().synchronize_batch_norm([&group](at::Tensor& sums) { group.allreduce_sum({sums}); });
    }
    const GroupSizes groups = group_sizes(run.classes.counts);
    log::info("{}: {} images{}; {} steps of {} images per epoch{}", options.train_list, images,
              run.contrastive ? fmt::format(", labels ignored (--loss simclr: two views each, temperature {})",
                                            options.temperature)
                              : fmt::format(" in {} class{} ({} many, {} medium, {} few)", run.classes.size(),
                                            run.classes.size() == 1 ? "" : "es", groups.many, groups.medium,
                                            groups.few),
              run.steps_per_epoch(), options.batch_size,
              group.distributed() || options.micro_batches > 1
                  ? fmt::format(" ({} per process{})", run.rank_batch(),
                                options.micro_batches > 1
                                    ? fmt::format(", in {} micro-batches of {}", options.micro_batches, run.micro_batch())
                                    : "")
                  : "");
    if (group.distributed())
        log::info("data-parallel over {} processes started by {}; BatchNorm statistics {}", group.size(),
                  group.launch().launcher, run.sync_bn() ? "over all processes (--sync-bn)" : "per process");

    LoaderOptions loader_options;
    loader_options.batch_size = static_cast<int>(run.rank_batch());
    loader_options.workers = compute.workers;
    loader_options.seed = options.seed.seed;
    loader_options.host_memory = precision::host_memory(run.device);
    loader_options.drop_last = true;  // equal batches, and never one image alone in BatchNorm
    BatchLoader loader(run.train_data, run.train_transform, loader_options);
    std::unique_ptr<BatchLoader> val_loader;
    if (!options.val_list.empty()) {
        loader_options.drop_last = false;
        ImageDataset val_data = open_image_dataset(options.val_list, options.root);
        check_images_exist(val_data, {options.output.path, options.log});
        warn_of_untrained_classes(val_data, run.classes);
        val_loader = std::make_unique<BatchLoader>(std::move(val_data),
                                                   image_transform(options.preset, false, options.image_size),
                                                   loader_options);
    }
    SamplerOptions sampler_options;
    sampler_options.kind = sampler_kind(options);
    sampler_options.seed = options.seed.seed;
    sampler_options.total_epochs = options.epochs;
    const Sampler sampler(run.contrastive ? std::vector<std::int64_t>(run.train_data.size(), 0)
                                          : run.train_data.labels(),
                          sampler_options);
    std::unique_ptr<EpochLog> epoch_log;
    if (group.is_root()) {
        // Every input is open by now: -o is first written after an epoch.
        check_not_an_input(options.output.path);
        epoch_log = std::make_unique<EpochLog>(options.log, resuming);
    }

    std::vector<at::Tensor> buffers;
    for (const at::Tensor& buffer : run.trained().buffers()) buffers.push_back(buffer);
    for (int epoch = run.first_epoch; epoch < options.epochs; ++epoch) {
        group.set_activity(fmt::format("in epoch {} of {}", epoch + 1, options.epochs));
        const EpochResult result = train_epoch(run, loader, sampler, epoch);
        std::string summary = fmt::format("epoch {}/{}: loss {:.4f}, lr {:.4g}, {:.0f} images/s", epoch + 1,
                                          options.epochs, result.loss, result.rate, result.images_per_second);
        std::string json = fmt::format(R"({{"epoch": {}, "lr": {}, "lr_backbone": {}, "loss": {}, )"
                                       R"("train_images_per_s": {}, "train_seconds": {})",
                                       epoch + 1, json_number(result.rate), json_number(result.rate_backbone),
                                       json_number(result.loss), json_number(result.images_per_second),
                                       json_number(result.seconds));
        // BatchNorm's running statistics of rank 0 (what the checkpoint keeps)
        // for every process, so that all validate the same model.
        group.broadcast(buffers);
        if (val_loader) {
            const Validation val = validate(run, *val_loader);
            summary += fmt::format("; val top-1 {:.1f}% (many {}, medium {}, few {})", val.top1,
                                   group_text(val.many), group_text(val.medium), group_text(val.few));
            json += fmt::format(R"(, "val_top1": {}, "val_many": {}, "val_medium": {}, "val_few": {})",
                                json_number(val.top1), json_number(val.many), json_number(val.medium),
                                json_number(val.few));
        }
        if (group.is_root()) {
            write_checkpoint(run, epoch + 1);
            epoch_log->write(json + "}");
        }
        log::info("{}", summary);
    }
    log::info("wrote {}", options.output.path);
}

}  // namespace

void run(const Options& options, const Compute& compute) {
    const dist::Launch launch = dist::read_launch();
    log::set_rank(launch.rank);
    dist::check_usage_once(launch, [&] { check_usage(options, launch); });
    memory::reuse_tensor_memory();
    use_threads(compute.threads);
    const at::Device device = dist::device_of_rank(resolve_device(compute.device), launch);
    const precision::Settings precision_settings = precision::configure(compute, device);
    dist::Group group(launch, "lt-train", options.dist_timeout.value(), device);
    group.set_failure_hint(fmt::format("{} keeps the last finished epoch; the same command with --resume continues",
                                       options.output.path));
    group.run([&] {
        // Inside the job, so that the other ranks learn of it rather than wait for rank 0.
        if (group.is_root()) check_output_folder(options.output.path);
        train(options, compute, group, precision_settings);
    });
}

}  // namespace lt::train
