#include "lt/learn/weights.hpp"

#include "lt/base/error.hpp"
#include "lt/io/model_layout.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lt::weights {

namespace {

bool is_integer_dataset(const h5::Group& group, const std::string& name) {
    h5::Handle dataset(H5Dopen2(group.id(), name.c_str(), H5P_DEFAULT));
    if (!dataset.valid()) throw SchemaError("cannot open " + group.where(name));
    h5::Handle type(H5Dget_type(dataset.get()));
    return H5Tget_class(type.get()) == H5T_INTEGER;
}

template <class T>
torch::Tensor tensor_from(std::vector<T>& values, const h5::Shape& shape, torch::ScalarType type) {
    return torch::from_blob(values.data(), std::vector<std::int64_t>(shape.begin(), shape.end()), type).clone();
}

}  // namespace

models::StateDict read_state_dict(const h5::Group& group) {
    models::StateDict entries;
    for (const std::string& name : group.children()) {
        if (!group.has_dataset(name)) continue;
        h5::Shape shape;
        if (is_integer_dataset(group, name)) {
            auto values = group.read_ints(name, &shape);
            entries.emplace_back(name, tensor_from(values, shape, torch::kLong));
        } else {
            auto values = group.read_floats(name, &shape);
            // A NaN weight or BatchNorm statistic turns every feature into
            // NaN; said here, naming it, rather than in a later tool or as a
            // training loss of NaN.
            const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
            if (bad != values.end())
                throw SchemaError(fmt::format("{} holds a non-finite value ({}) at element {}", group.where(name),
                                              *bad, bad - values.begin()),
                                  "the weights are damaged, or were saved from a run that diverged");
            entries.emplace_back(name, tensor_from(values, shape, torch::kFloat));
        }
    }
    return entries;
}

void write_state_dict(h5::Group& group, const models::StateDict& entries) {
    for (const auto& [key, tensor] : entries) {
        const h5::Shape shape(tensor.sizes().begin(), tensor.sizes().end());
        if (tensor.is_floating_point()) {
            torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kFloat).contiguous();
            group.write_floats(key, values.data_ptr<float>(), shape);
        } else {
            torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kLong).contiguous();
            group.write_ints(key, values.data_ptr<std::int64_t>(), shape);
        }
    }
}

models::LoadReport load_init(models::Backbone& backbone, const std::string& path) {
    h5::InputFile in(path);
    // An lt file of another kind (features, a classifier) is named as such;
    // a bare state dict has no lt_type.
    if (in.has_attr("lt_type") && in.type() != model_layout::kType)
        throw SchemaError(fmt::format("{} is a '{}' file, not weights", path, in.type()),
                          "--init takes an lt model file or a state dict with torchvision names");
    const bool nested = in.has_group("backbone");
    models::StateDict entries = read_state_dict(nested ? in.group("backbone") : static_cast<const h5::Group&>(in));
    models::LoadReport report = models::load_state_dict(backbone, entries);
    if (report.matched.empty())
        throw SchemaError(fmt::format("no weight of {}{} matches a {} parameter", path, nested ? ":/backbone" : "",
                                      backbone.arch()),
                          "export the state dict with torchvision names (see lt-train(1), --init)");
    return report;
}

void load_exact(torch::nn::Module& module, const models::StateDict& entries, const std::string& where) {
    models::LoadReport report = models::load_state_dict(module, entries);
    const auto first = [](const std::vector<std::string>& keys) {
        return fmt::format("{}{}", keys.front(), keys.size() > 1 ? fmt::format(" and {} more", keys.size() - 1) : "");
    };
    if (!report.missing.empty()) throw SchemaError(fmt::format("{} lacks {}", where, first(report.missing)));
    if (!report.unexpected.empty() || !report.ignored.empty()) {
        auto extra = report.unexpected;
        extra.insert(extra.end(), report.ignored.begin(), report.ignored.end());
        throw SchemaError(fmt::format("{} has {}, which the model does not", where, first(extra)));
    }
}

std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t state) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        state ^= bytes[i];
        state *= 0x100000001b3ull;
    }
    return state;
}

std::string fingerprint(const models::StateDict& entries) {
    std::uint64_t state = kFnvOffset;
    for (const auto& [key, tensor] : entries) {
        state = fnv1a(key.data(), key.size() + 1, state);  // with the terminator: keys stay apart
        torch::Tensor values = tensor.detach().to(torch::kCPU).contiguous();
        state = fnv1a(values.data_ptr(), values.numel() * values.element_size(), state);
    }
    return fmt::format("{:016x}", state);
}

}  // namespace lt::weights
