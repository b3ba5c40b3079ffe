#include "lt/learn/model_file.hpp"

#include "lt/base/error.hpp"
#include "lt/io/model_layout.hpp"
#include "lt/io/schema.hpp"
#include "lt/learn/weights.hpp"
#include "lt/learn/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace lt::model_file {

namespace layout = model_layout;

std::string Setting::text() const {
    return std::visit([](const auto& v) { return fmt::format("{}", v); }, value);
}

void Setting::write(h5::Group& group) const {
    std::visit([&](const auto& v) { group.set_attr(name, v); }, value);
}

std::string Setting::stored_text(const h5::Group& group) const {
    if (!group.has_attr(name)) throw SchemaError(fmt::format("{} does not record {}", group.file_name(), name));
    switch (value.index()) {
        case 0: return group.attr_string(name);
        case 1: return fmt::format("{}", group.attr_int(name));
        default: return fmt::format("{}", group.attr_double(name));
    }
}

namespace {

Classifier classifier_rows(const models::Model& model, const Checkpoint& checkpoint) {
    Classifier result;
    const models::Classifier& head = *model.classifier();
    result.kind = models::to_string(head.kind());
    result.weights = to_matrix(head.weight().detach());
    if (const auto* cosine = dynamic_cast<const models::CosineClassifier*>(&head)) result.scale = cosine->scale();
    if (const auto* linear = dynamic_cast<const models::LinearClassifier*>(&head)) {
        at::Tensor bias = linear->bias().detach().to(at::kCPU).contiguous();
        result.bias.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + bias.numel());
    }
    result.class_ids = checkpoint.class_ids;
    result.class_counts = checkpoint.class_counts;
    return result;
}

}  // namespace

void write(const std::string& path, const Checkpoint& checkpoint) {
    h5::OutputFile out(path, layout::kType);
    for (const Setting& attribute : checkpoint.attributes) attribute.write(out);

    h5::Group backbone = out.create_group(layout::kBackbone);
    if (checkpoint.contrastive) {
        weights::write_state_dict(backbone, models::state_dict(*checkpoint.contrastive->backbone()));
        h5::Group projection = out.create_group(layout::kProjection);
        weights::write_state_dict(projection, models::state_dict(*checkpoint.contrastive->projection()));
    } else {
        const models::Model& model = *checkpoint.model;
        weights::write_state_dict(backbone, models::state_dict(*model.backbone()));
        h5::Group classifier = out.create_group(layout::kClassifier);
        write_classifier_group(classifier, classifier_rows(model, checkpoint));
    }

    const TrainState& state = checkpoint.state;
    h5::Group group = out.create_group(layout::kTrainState);
    group.set_attr(layout::kStateEpoch, state.epoch);
    group.set_attr(layout::kStateStep, state.step);
    group.set_attr(layout::kStateRandomness,
                   "every draw derives from (seed, epoch, position in the epoch): no generator state to keep");
    group.set_attr(layout::kWorldSize, state.world_size);
    group.set_attr(layout::kMicroBatches, state.micro_batches);
    group.set_attr(layout::kSyncBatchNorm, std::int64_t{state.sync_bn});
    group.set_attr(layout::kBatchNormBatch, state.batch_norm_batch);
    h5::Group momentum = group.create_group(layout::kMomentum);
    weights::write_state_dict(momentum, state.momentum);
    out.commit();
}

std::unique_ptr<h5::InputFile> open(const std::string& path) {
    auto in = std::make_unique<h5::InputFile>(path);
    in->check_type(layout::kType);
    return in;
}

bool has_train_state(const h5::Group& file) { return file.has_group(layout::kTrainState); }

void read_weights(const h5::Group& file, models::Model& model, const std::vector<std::int64_t>& class_ids) {
    const std::string where = file.file_name();
    weights::load_exact(*model.backbone(), weights::read_state_dict(file.group(layout::kBackbone)),
                        where + ":/" + layout::kBackbone);
    const Classifier stored = read_classifier_group(file.group(layout::kClassifier));
    if (stored.class_ids != class_ids)
        throw SchemaError(fmt::format("{}:/{} has other classes than the training list", where, layout::kClassifier));
    models::StateDict head;
    head.emplace_back("weight", to_tensor(stored.weights));
    if (stored.kind == "cosine")
        head.emplace_back("scale", torch::full({}, stored.scale, torch::kFloat));
    else
        head.emplace_back("bias", torch::from_blob(const_cast<float*>(stored.bias.data()),
                                                   {static_cast<std::int64_t>(stored.bias.size())})
                                      .clone());
    weights::load_exact(*model.classifier(), head, where + ":/" + layout::kClassifier);
}

void read_weights(const h5::Group& file, models::ContrastiveModel& model) {
    const std::string where = file.file_name();
    if (!file.has_group(layout::kProjection))
        throw SchemaError(fmt::format("{} has no /{}: it is not a contrastive (--loss simclr) model", where,
                                      layout::kProjection));
    weights::load_exact(*model.backbone(), weights::read_state_dict(file.group(layout::kBackbone)),
                        where + ":/" + layout::kBackbone);
    weights::load_exact(*model.projection(), weights::read_state_dict(file.group(layout::kProjection)),
                        where + ":/" + layout::kProjection);
}

TrainState read_train_state(const h5::Group& file) {
    const h5::Group group = file.group(layout::kTrainState);
    TrainState state;
    state.epoch = group.attr_int(layout::kStateEpoch);
    state.step = group.attr_int(layout::kStateStep);
    if (state.epoch < 0 || state.step < 0)
        throw SchemaError(fmt::format("{}: /{} has epoch {} and step {}; neither may be negative", file.file_name(),
                                      layout::kTrainState, state.epoch, state.step));
    state.momentum = weights::read_state_dict(group.group(layout::kMomentum));
    // Checkpoints of one process before data-parallel training recorded none of these.
    const auto optional_int = [&](const char* name, std::int64_t fallback) {
        return group.has_attr(name) ? group.attr_int(name) : fallback;
    };
    state.world_size = optional_int(layout::kWorldSize, 1);
    state.micro_batches = optional_int(layout::kMicroBatches, 1);
    state.sync_bn = optional_int(layout::kSyncBatchNorm, 0) != 0;
    state.batch_norm_batch = optional_int(layout::kBatchNormBatch, 0);
    return state;
}

TrainedBackbone read_backbone(const std::string& path) {
    const std::unique_ptr<h5::InputFile> in = open(path);
    TrainedBackbone result;
    // The file's settings are checked as the command line's would be, but
    // named as the file's: they are not options the user gave.
    const std::string arch = in->attr_string(layout::kArch);
    const std::vector<std::string>& archs = models::arch_names();
    if (std::find(archs.begin(), archs.end(), arch) == archs.end())
        throw SchemaError(fmt::format("{}: arch '{}' is not an architecture lt knows ({})", path, arch,
                                      fmt::join(archs, ", ")));
    result.backbone = models::make_backbone(arch);
    if (!in->has_group(layout::kBackbone)) throw SchemaError(fmt::format("{} has no /{}", path, layout::kBackbone));
    weights::load_exact(*result.backbone, weights::read_state_dict(in->group(layout::kBackbone)),
                        path + ":/" + layout::kBackbone);
    if (in->has_attr(layout::kPreset)) {
        result.preset = in->attr_string(layout::kPreset);
        if (result.preset != "imagenet" && result.preset != "small")
            throw SchemaError(fmt::format("{}: preset '{}' is not a transform lt knows (imagenet, small)", path,
                                          result.preset));
    }
    if (in->has_attr(layout::kImageSize)) {
        // The range of --image-size.
        const std::int64_t side = in->attr_int(layout::kImageSize);
        if (side != 0 && (side < 8 || side > 4096))
            throw SchemaError(fmt::format("{}: image_size {} is not 0 or 8 to 4096", path, side));
        result.image_size = static_cast<int>(side);
    }
    return result;
}

}  // namespace lt::model_file
