// Which training images an epoch visits, for the sampling schemes of the
// long-tail literature. Every epoch draws N indices (N = number of images);
// they depend only on (seed, epoch), so a resumed run draws what an
// uninterrupted one would.
//
//   instance     every image once per epoch, shuffled ("uniform" in the paper)
//   sqrt         class j with probability q_j ∝ n_j^½, then a uniform image of it
//   class-aware  classes uniformly (cycling through shuffled classes), 4 images
//                of the class per draw (cycling through its shuffled images)
//   progressive  q_j(t) = (1 - t/T) n_j/N + (t/T) / C at epoch t of T: from
//                instance sampling to class-balanced sampling
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lt {

enum class SamplerKind { instance, square_root, class_aware, progressive };

// "instance" (or "uniform"), "sqrt" (or "square-root"), "class-aware",
// "progressive". Throws lt::UsageError otherwise.
SamplerKind parse_sampler_kind(const std::string& name);
std::string sampler_name(SamplerKind kind);

struct SamplerOptions {
    SamplerKind kind = SamplerKind::instance;
    std::uint64_t seed = 0;
    int total_epochs = 1;      // T of the progressive sampler
    int images_per_class = 4;  // per draw of the class-aware sampler
};

class Sampler {
public:
    // labels[i] is the class of image i (>= 0). Classes with no image are
    // never drawn and do not count in C.
    Sampler(std::vector<std::int64_t> labels, SamplerOptions options);

    // The image indices of epoch (0-based), in visiting order.
    std::vector<std::size_t> epoch_indices(int epoch) const;

    // Closed form: the probability that a draw in epoch comes from class j.
    std::vector<double> class_probabilities(int epoch) const;

    std::size_t epoch_size() const { return labels_.size(); }
    const SamplerOptions& options() const { return options_; }

private:
    std::vector<std::size_t> draw_by_class_probability(int epoch) const;
    std::vector<std::size_t> draw_class_aware(int epoch) const;

    std::vector<std::int64_t> labels_;
    SamplerOptions options_;
    std::vector<std::vector<std::size_t>> images_of_class_;  // indexed by label
    std::vector<std::size_t> present_classes_;               // labels with images
};

}  // namespace lt
