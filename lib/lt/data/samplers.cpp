#include "lt/data/samplers.hpp"

#include "lt/base/error.hpp"
#include "lt/base/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lt {

namespace {

// Domain-separates the samplers' streams from others derived from the same seed.
constexpr std::uint64_t kSamplerStream = 0x53414D504C455253ull;  // "SAMPLERS"

// Draws from a shuffled list, reshuffling each time it is used up: every
// item comes once per pass, in a new order each pass.
class Cycle {
public:
    explicit Cycle(std::vector<std::size_t> items) : items_(std::move(items)), next_(items_.size()) {}
    std::size_t next(Rng& rng) {
        if (next_ == items_.size()) {
            shuffle(items_, rng);
            next_ = 0;
        }
        return items_[next_++];
    }

private:
    std::vector<std::size_t> items_;
    std::size_t next_;
};

}  // namespace

SamplerKind parse_sampler_kind(const std::string& name) {
    if (name == "instance" || name == "uniform") return SamplerKind::instance;
    if (name == "sqrt" || name == "square-root") return SamplerKind::square_root;
    if (name == "class-aware") return SamplerKind::class_aware;
    if (name == "progressive") return SamplerKind::progressive;
    throw UsageError(fmt::format("unknown sampler '{}'", name), "use instance, sqrt, class-aware or progressive");
}

std::string sampler_name(SamplerKind kind) {
    switch (kind) {
        case SamplerKind::instance: return "instance";
        case SamplerKind::square_root: return "sqrt";
        case SamplerKind::class_aware: return "class-aware";
        case SamplerKind::progressive: return "progressive";
    }
    return "?";
}

Sampler::Sampler(std::vector<std::int64_t> labels, SamplerOptions options)
    : labels_(std::move(labels)), options_(options) {
    if (labels_.empty()) throw Error("cannot sample from an empty data set");
    if (options_.total_epochs < 1) throw UsageError("the number of epochs must be at least 1");
    if (options_.images_per_class < 1) throw UsageError("images per class must be at least 1");
    for (std::size_t i = 0; i < labels_.size(); ++i) {
        if (labels_[i] < 0) throw Error(fmt::format("cannot sample image {} with negative label {}", i, labels_[i]));
        auto label = static_cast<std::size_t>(labels_[i]);
        if (label >= images_of_class_.size()) images_of_class_.resize(label + 1);
        images_of_class_[label].push_back(i);
    }
    for (std::size_t label = 0; label < images_of_class_.size(); ++label)
        if (!images_of_class_[label].empty()) present_classes_.push_back(label);
}

std::vector<double> Sampler::class_probabilities(int epoch) const {
    std::vector<double> probabilities(images_of_class_.size(), 0.0);
    const double images = static_cast<double>(labels_.size());
    const double classes = static_cast<double>(present_classes_.size());
    switch (options_.kind) {
        case SamplerKind::instance:
            for (std::size_t j : present_classes_) probabilities[j] = images_of_class_[j].size() / images;
            break;
        case SamplerKind::square_root: {
            double total = 0;
            for (std::size_t j : present_classes_) total += std::sqrt(static_cast<double>(images_of_class_[j].size()));
            for (std::size_t j : present_classes_)
                probabilities[j] = std::sqrt(static_cast<double>(images_of_class_[j].size())) / total;
            break;
        }
        case SamplerKind::class_aware:
            for (std::size_t j : present_classes_) probabilities[j] = 1.0 / classes;
            break;
        case SamplerKind::progressive: {
            // Past the last epoch the schedule stays class-balanced.
            double progress = std::clamp(static_cast<double>(epoch) / options_.total_epochs, 0.0, 1.0);
            for (std::size_t j : present_classes_)
                probabilities[j] = (1 - progress) * (images_of_class_[j].size() / images) + progress / classes;
            break;
        }
    }
    return probabilities;
}

std::vector<std::size_t> Sampler::epoch_indices(int epoch) const {
    if (epoch < 0) throw Error(fmt::format("epoch {} is negative", epoch));
    switch (options_.kind) {
        case SamplerKind::instance: {
            Rng rng = make_rng(options_.seed, {kSamplerStream, static_cast<std::uint64_t>(epoch)});
            return random_permutation(labels_.size(), rng);
        }
        case SamplerKind::class_aware:
            return draw_class_aware(epoch);
        case SamplerKind::square_root:
        case SamplerKind::progressive:
            return draw_by_class_probability(epoch);
    }
    return {};
}

std::vector<std::size_t> Sampler::draw_by_class_probability(int epoch) const {
    Rng rng = make_rng(options_.seed, {kSamplerStream, static_cast<std::uint64_t>(epoch)});
    std::vector<double> probabilities = class_probabilities(epoch);
    std::vector<double> cumulative(probabilities.size());
    std::partial_sum(probabilities.begin(), probabilities.end(), cumulative.begin());
    const std::size_t last_class = present_classes_.back();

    std::vector<std::size_t> indices;
    indices.reserve(labels_.size());
    for (std::size_t draw = 0; draw < labels_.size(); ++draw) {
        double u = uniform_unit(rng) * cumulative.back();
        // The first class whose cumulative share exceeds u; empty classes have
        // no width, so upper_bound never lands on them.
        auto chosen = static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                               cumulative.begin());
        if (chosen > last_class) chosen = last_class;  // rounding at the very top
        const auto& images = images_of_class_[chosen];
        indices.push_back(images[uniform_index(rng, images.size())]);
    }
    return indices;
}

std::vector<std::size_t> Sampler::draw_class_aware(int epoch) const {
    Rng rng = make_rng(options_.seed, {kSamplerStream, static_cast<std::uint64_t>(epoch)});
    Cycle classes(present_classes_);
    std::vector<Cycle> images;
    images.reserve(images_of_class_.size());
    for (const auto& members : images_of_class_) images.emplace_back(members);

    std::vector<std::size_t> indices;
    indices.reserve(labels_.size());
    while (indices.size() < labels_.size()) {
        std::size_t label = classes.next(rng);
        for (int k = 0; k < options_.images_per_class && indices.size() < labels_.size(); ++k)
            indices.push_back(images[label].next(rng));
    }
    return indices;
}

}  // namespace lt
