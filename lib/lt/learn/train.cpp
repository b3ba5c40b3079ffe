#include "lt/learn/train.hpp"

#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/data/loader.hpp"
#include "lt/data/samplers.hpp"
#include "lt/image/images.hpp"
#include "lt/image/transforms.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/schema.hpp"
#include "lt/learn/models.hpp"
#include "lt/learn/recipes.hpp"
#include "lt/learn/weights.hpp"
#include "lt/learn/tensor.hpp"

#include <torch/utils.h>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include <variant>

namespace lt::train {

void Options::add_to(CLI::App& app) {
    recipes::add_config_option(app);
    app.add_option("--train-list", train_list, "Training list file (<path> <label> per line)")
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
    app.add_option("--loss", loss, "Training loss (balanced-softmax adds log n_j to the logits)")
        ->check(CLI::IsMember({"ce", "balanced-softmax"}))
        ->capture_default_str();
    app.add_option("--epochs", epochs, "Epochs to train for in all (a resumed run continues up to it)")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--batch-size", batch_size, "Images per step")->check(cli::Positive)->capture_default_str();
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
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--init", init, "Initial backbone weights with torchvision names (the classifier is always new)")
        ->type_name("WEIGHTS.h5");
    app.add_flag("--resume", resume, "Continue the run checkpointed in the -o file (from scratch if it is missing)");
    app.add_option("--log", log, "Write one JSON object per epoch to FILE ('-' = stdout)")->type_name("FILE.jsonl");
    seed.add_to(app);
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

// An option that defines the computation: recorded on the model's root and
// required to be the same when a run is resumed.
struct RunSetting {
    std::string name;
    std::variant<std::string, std::int64_t, double> value;

    std::string text() const {
        return std::visit([](const auto& v) { return fmt::format("{}", v); }, value);
    }
    void write(h5::Group& group) const {
        std::visit([&](const auto& v) { group.set_attr(name, v); }, value);
    }
    std::string stored_text(const h5::Group& group) const {
        switch (value.index()) {
            case 0: return group.attr_string(name);
            case 1: return fmt::format("{}", group.attr_int(name));
            default: return fmt::format("{}", group.attr_double(name));
        }
    }
};

double backbone_rate(const Options& options) { return options.lr_backbone < 0 ? options.lr : options.lr_backbone; }

std::vector<RunSetting> run_settings(const Options& options, const ImageTransform& transform,
                                     const std::string& train_list_hash) {
    return {{"arch", options.arch},
            {"head", options.head},
            {"sampler", sampler_name(parse_sampler_kind(options.sampler))},
            {"loss", options.loss},
            {"batch_size", std::int64_t{options.batch_size}},
            {"lr", options.lr},
            {"lr_backbone", backbone_rate(options)},
            {"momentum", options.momentum},
            {"weight_decay", options.weight_decay},
            {"warmup_epochs", options.warmup_epochs},
            {"preset", options.preset},
            {"image_size", std::int64_t{transform.size}},
            {"seed", static_cast<std::int64_t>(options.seed.seed)},
            {"train_list_hash", train_list_hash}};
}

// Everything training needs, built once.
struct Run {
    const Options& options;
    at::Device device;
    ImageDataset train_data;
    TrainingClasses classes;
    ImageTransform train_transform;
    std::vector<RunSetting> settings;
    std::shared_ptr<models::Model> model;
    MomentumSgd sgd;
    int first_epoch = 0;     // epochs already done
    std::int64_t step = 0;   // optimizer steps already done
    std::int64_t total_steps = 0, warmup_steps = 0;
    at::Tensor row_of_label;  // label -> classifier row
    at::Tensor log_counts;    // log n_j by row, on the device (balanced softmax only)

    Run(const Options& options_, at::Device device_)
        : options(options_),
          device(device_),
          train_data(open_image_dataset(options_.train_list, options_.root)),
          classes(train_data.entries),
          train_transform(image_transform(options_.preset, true, options_.image_size)),
          settings(run_settings(options_, train_transform, list_fingerprint(train_data.entries))),
          sgd(options_.momentum, options_.weight_decay),
          total_steps(options_.epochs * steps_per_epoch()),
          warmup_steps(std::llround(options_.warmup_epochs * static_cast<double>(steps_per_epoch()))),
          row_of_label(to_tensor(classes.row_of_label)) {
        if (options.loss == "balanced-softmax")
            log_counts = to_tensor(classes.counts).to(at::kFloat).log().to(device);
    }

    std::int64_t steps_per_epoch() const {
        return static_cast<std::int64_t>(train_data.size()) / options.batch_size;
    }
    double rate(double base) const { return learning_rate(base, step, total_steps, warmup_steps); }
};

// ---- checkpoints

Classifier classifier_of(const models::Model& model, const TrainingClasses& classes) {
    Classifier result;
    const models::Classifier& head = *model.classifier();
    result.kind = models::to_string(head.kind());
    result.weights = to_matrix(head.weight().detach());
    if (const auto* cosine = dynamic_cast<const models::CosineClassifier*>(&head)) result.scale = cosine->scale();
    if (const auto* linear = dynamic_cast<const models::LinearClassifier*>(&head)) {
        at::Tensor bias = linear->bias().detach().to(at::kCPU).contiguous();
        result.bias.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + bias.numel());
    }
    result.class_ids = classes.ids;
    result.class_counts = classes.counts;
    return result;
}

void write_checkpoint(const Run& run, int epochs_done) {
    const Options& options = run.options;
    h5::OutputFile out(options.output.path, "model");
    for (const RunSetting& setting : run.settings) setting.write(out);
    out.set_attr("epoch", std::int64_t{epochs_done});
    out.set_attr("epochs", std::int64_t{options.epochs});
    out.set_attr("train_list", options.train_list);
    out.set_attr("root", options.root);
    if (!options.val_list.empty()) out.set_attr("val_list", options.val_list);
    if (!options.init.empty()) out.set_attr("init", options.init);

    h5::Group backbone = out.create_group("backbone");
    weights::write_state_dict(backbone, models::state_dict(*run.model->backbone()));
    h5::Group classifier = out.create_group("classifier");
    write_classifier_group(classifier, classifier_of(*run.model, run.classes));

    h5::Group state = out.create_group("train_state");
    state.set_attr("epoch", std::int64_t{epochs_done});
    state.set_attr("step", run.step);
    state.set_attr("randomness",
                   "every draw derives from (seed, epoch, position in the epoch): no generator state to keep");
    h5::Group momentum = state.create_group("momentum");
    weights::write_state_dict(momentum, run.sgd.buffers());
    out.commit();
}

void check_resumable(const h5::InputFile& in, const std::vector<RunSetting>& settings) {
    if (!in.has_group("train_state"))
        throw Error(fmt::format("{} has no /train_state: it is not an lt-train checkpoint", in.file_name()),
                    "drop --resume to train from scratch");
    for (const RunSetting& setting : settings) {
        if (!in.has_attr(setting.name))
            throw SchemaError(fmt::format("{} does not record {}; cannot resume it", in.file_name(), setting.name));
        const std::string stored = setting.stored_text(in);
        if (stored != setting.text())
            throw UsageError(fmt::format("cannot resume {}: it was trained with {} {}, not {}", in.file_name(),
                                         setting.name, stored, setting.text()),
                             "resume with the options of the interrupted run, or drop --resume to start over");
    }
}

// Restores weights, optimizer state and progress from the checkpoint.
void restore_checkpoint(Run& run) {
    const std::string& path = run.options.output.path;
    h5::InputFile in(path);
    in.check_type("model");
    check_resumable(in, run.settings);

    weights::load_exact(*run.model->backbone(), weights::read_state_dict(in.group("backbone")), path + ":/backbone");
    const Classifier stored = read_classifier_group(in.group("classifier"));
    if (stored.class_ids != run.classes.ids)
        throw SchemaError(fmt::format("{}:/classifier has other classes than the training list", path));
    models::StateDict head;
    head.emplace_back("weight", to_tensor(stored.weights));
    if (stored.kind == "cosine")
        head.emplace_back("scale", torch::full({}, stored.scale, torch::kFloat));
    else
        head.emplace_back("bias", torch::from_blob(const_cast<float*>(stored.bias.data()),
                                                   {static_cast<std::int64_t>(stored.bias.size())})
                                      .clone());
    weights::load_exact(*run.model->classifier(), head, path + ":/classifier");

    const h5::Group state = in.group("train_state");
    run.sgd.load(weights::read_state_dict(state.group("momentum")), path + ":/train_state/momentum");
    run.first_epoch = static_cast<int>(state.attr_int("epoch"));
    run.step = state.attr_int("step");
    if (run.step != run.first_epoch * run.steps_per_epoch())
        throw SchemaError(fmt::format("{}: /train_state has step {} after {} epochs of {} steps", path, run.step,
                                      run.first_epoch, run.steps_per_epoch()));
}

bool file_exists(const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0;
}

// Samplers that draw with replacement may not visit every image for a long
// time: a missing file is reported now rather than hours into a run.
void check_images_exist(const ImageDataset& dataset) {
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
}

// ---- validation

struct Validation {
    double top1 = 0, many = 0, medium = 0, few = 0;  // percent; NaN for a group without classes
};

// Top-1 over all images, and per shot group (by TRAINING count) the mean of
// the per-class accuracies, as lt-eval computes them.
Validation validate(models::Model& model, BatchLoader& loader, const TrainingClasses& classes,
                    const at::Device& device) {
    torch::NoGradGuard no_grad;
    model.eval();
    std::vector<std::size_t> order(loader.dataset().size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    loader.start_epoch(std::move(order), 0);
    const at::Tensor row_to_id = to_tensor(classes.ids);
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> per_class;  // label -> (correct, images)
    Batch batch;
    while (loader.next(batch)) {
        const auto n = static_cast<std::int64_t>(batch.size());
        at::Tensor images = torch::from_blob(batch.images.data(), {n, 3, batch.height, batch.width}).to(device);
        at::Tensor predicted = row_to_id.index_select(0, model.forward(images).argmax(1).to(at::kCPU));
        const auto* ids = predicted.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) {
            auto& [correct, images_of_class] = per_class[batch.labels[static_cast<std::size_t>(i)]];
            correct += ids[i] == batch.labels[static_cast<std::size_t>(i)];
            ++images_of_class;
        }
    }
    model.train();

    const GroupThresholds thresholds;
    double group_sum[3] = {0, 0, 0}, group_classes[3] = {0, 0, 0};
    std::int64_t correct = 0, images = 0;
    for (const auto& [label, tally] : per_class) {
        correct += tally.first;
        images += tally.second;
        const auto group = static_cast<int>(thresholds.of(classes.count_of(label)));
        group_sum[group] += static_cast<double>(tally.first) / static_cast<double>(tally.second);
        group_classes[group] += 1;
    }
    const auto mean = [&](int group) {
        return group_classes[group] > 0 ? 100 * group_sum[group] / group_classes[group]
                                        : std::numeric_limits<double>::quiet_NaN();
    };
    return {100.0 * static_cast<double>(correct) / static_cast<double>(images), mean(0), mean(1), mean(2)};
}

// ---- the per-epoch log

std::string json_number(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

class EpochLog {
public:
    EpochLog(const std::string& path, bool append) : to_stdout_(path == "-") {
        if (path.empty() || to_stdout_) return;
        file_.open(path, append ? std::ios::app : std::ios::trunc);
        if (!file_) throw Error(fmt::format("cannot write the log {}: {}", path, std::strerror(errno)));
    }
    void write(const std::string& line) {
        if (to_stdout_) {
            std::fputs((line + "\n").c_str(), stdout);
            std::fflush(stdout);
        } else if (file_.is_open()) {
            file_ << line << '\n' << std::flush;
        }
    }

private:
    bool to_stdout_;
    std::ofstream file_;
};

// ---- one epoch, and its report

struct EpochResult {
    double loss = 0, rate = 0, rate_backbone = 0;  // mean loss; the rates of the last step
    double seconds = 0, images_per_second = 0;
};

EpochResult train_epoch(Run& run, BatchLoader& loader, const Sampler& sampler, int epoch) {
    const Options& options = run.options;
    const auto started = std::chrono::steady_clock::now();
    loader.start_epoch(sampler.epoch_indices(epoch), static_cast<std::uint64_t>(epoch));
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
        at::Tensor images = torch::from_blob(batch.images.data(), {n, 3, batch.height, batch.width}).to(run.device);
        at::Tensor targets = run.row_of_label.index_select(0, to_tensor(batch.labels)).to(run.device);
        at::Tensor loss = classification_loss(run.model->forward(images), targets, run.log_counts);
        run.model->zero_grad();
        loss.backward();
        run.sgd.step({result.rate_backbone, result.rate});
        const double value = loss.item<double>();
        if (!std::isfinite(value))
            throw Error(fmt::format("the loss is {} at epoch {}, step {}", value, epoch + 1, run.step + 1),
                        "lower --lr");
        loss_sum += value;
        ++batches;
        ++run.step;
        progress.set_suffix(fmt::format("loss {:.4f}", loss_sum / static_cast<double>(batches)));
        progress.advance(n);
    }
    progress.finish();
    result.loss = loss_sum / static_cast<double>(batches);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.images_per_second = static_cast<double>(batches * options.batch_size) / result.seconds;
    return result;
}

std::string group_text(double value) { return std::isfinite(value) ? fmt::format("{:.1f}", value) : "-"; }

// The model is first written after a whole epoch: a folder that cannot take
// it is reported before training.
void check_output_folder(const std::string& path) {
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    const std::string name = folder.empty() ? "." : folder.string();
    if (access(name.c_str(), W_OK) != 0)
        throw Error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

void check_usage(const Options& options) {
    if (options.train_list == "-" || options.val_list == "-")
        throw UsageError("the lists must be files, not '-': training reads the images every epoch, and "
                         "--resume checks the list against the checkpoint");
    if (options.output.path == "-")
        throw UsageError("-o must be a file, not '-': the model file is also the checkpoint, rewritten after "
                         "every epoch");
    parse_sampler_kind(options.sampler);
}

}  // namespace

void run(const Options& options, const Compute& compute) {
    check_usage(options);
    check_output_folder(options.output.path);
    use_threads(compute.threads);
    Run run(options, resolve_device(compute.device));
    check_images_exist(run.train_data);
    const std::int64_t images = static_cast<std::int64_t>(run.train_data.size());
    if (images < options.batch_size)
        throw Error(fmt::format("the batch size {} is larger than the {} training images", options.batch_size, images),
                    fmt::format("use --batch-size {} or less", images));

    // The initial weights come from the seed alone; a resumed run overwrites them.
    torch::manual_seed(options.seed.seed);
    run.model = std::make_shared<models::Model>(options.arch, run.classes.size(),
                                                models::parse_classifier_kind(options.head));
    run.model->to(run.device);
    run.sgd.add_group(*run.model->backbone(), "backbone.", kBackboneRate);
    run.sgd.add_group(*run.model->classifier(), "classifier.", kClassifierRate);

    const bool resuming = options.resume && file_exists(options.output.path);
    if (resuming) {
        restore_checkpoint(run);
        log::info("resuming {} after epoch {} of {}", options.output.path, run.first_epoch, options.epochs);
    } else {
        if (options.resume) log::info("no checkpoint {} yet; starting from scratch", options.output.path);
        if (!options.init.empty()) {
            const models::LoadReport report = weights::load_init(*run.model->backbone(), options.init);
            log::info("--init {}: {}", options.init, report.summary());
            if (!report.missing.empty() || !report.unexpected.empty())
                log::warn("--init {}: {} missing and {} unexpected weights", options.init, report.missing.size(),
                          report.unexpected.size());
        }
    }
    if (run.first_epoch >= options.epochs) {
        log::info("{} is already trained for {} epochs; nothing to do", options.output.path, run.first_epoch);
        return;
    }
    run.model->train();
    const GroupSizes groups = group_sizes(run.classes.counts);
    log::info("{}: {} images in {} classes ({} many, {} medium, {} few); {} steps of {} images per epoch",
              options.train_list, images, run.classes.size(), groups.many, groups.medium, groups.few,
              run.steps_per_epoch(), options.batch_size);

    LoaderOptions loader_options;
    loader_options.batch_size = options.batch_size;
    loader_options.workers = compute.workers;
    loader_options.seed = options.seed.seed;
    loader_options.drop_last = true;  // equal batches, and never one image alone in BatchNorm
    BatchLoader loader(run.train_data, run.train_transform, loader_options);
    std::unique_ptr<BatchLoader> val_loader;
    if (!options.val_list.empty()) {
        loader_options.drop_last = false;
        ImageDataset val_data = open_image_dataset(options.val_list, options.root);
        check_images_exist(val_data);
        val_loader = std::make_unique<BatchLoader>(std::move(val_data),
                                                   image_transform(options.preset, false, options.image_size),
                                                   loader_options);
    }
    SamplerOptions sampler_options;
    sampler_options.kind = parse_sampler_kind(options.sampler);
    sampler_options.seed = options.seed.seed;
    sampler_options.total_epochs = options.epochs;
    const Sampler sampler(run.train_data.labels(), sampler_options);
    EpochLog epoch_log(options.log, resuming);

    for (int epoch = run.first_epoch; epoch < options.epochs; ++epoch) {
        const EpochResult result = train_epoch(run, loader, sampler, epoch);
        std::string summary = fmt::format("epoch {}/{}: loss {:.4f}, lr {:.4g}, {:.0f} images/s", epoch + 1,
                                          options.epochs, result.loss, result.rate, result.images_per_second);
        std::string json = fmt::format(R"({{"epoch": {}, "lr": {}, "lr_backbone": {}, "loss": {}, )"
                                       R"("train_images_per_s": {}, "train_seconds": {})",
                                       epoch + 1, json_number(result.rate), json_number(result.rate_backbone),
                                       json_number(result.loss), json_number(result.images_per_second),
                                       json_number(result.seconds));
        if (val_loader) {
            const Validation val = validate(*run.model, *val_loader, run.classes, run.device);
            summary += fmt::format("; val top-1 {:.1f}% (many {}, medium {}, few {})", val.top1,
                                   group_text(val.many), group_text(val.medium), group_text(val.few));
            json += fmt::format(R"(, "val_top1": {}, "val_many": {}, "val_medium": {}, "val_few": {})",
                                json_number(val.top1), json_number(val.many), json_number(val.medium),
                                json_number(val.few));
        }
        write_checkpoint(run, epoch + 1);
        epoch_log.write(json + "}");
        log::info("{}", summary);
    }
    log::info("wrote {}", options.output.path);
}

}  // namespace lt::train
