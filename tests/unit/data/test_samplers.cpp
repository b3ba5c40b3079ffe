// Samplers: frequencies against the closed forms, checked statistically
// over ~100k draws with a chi-square bound; structure of class-aware draws;
// determinism by (seed, epoch).
#include "lt/base/error.hpp"
#include "lt/data/samplers.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace {

// Class sizes 400, 100, 25, 9, 1 (label 3 left empty), 535 images.
std::vector<std::int64_t> long_tail_labels() {
    const std::vector<std::pair<std::int64_t, int>> sizes = {{0, 400}, {1, 100}, {2, 25}, {4, 9}, {5, 1}};
    std::vector<std::int64_t> labels;
    for (auto [label, count] : sizes) labels.insert(labels.end(), count, label);
    // Interleave, so that class and index order differ.
    std::vector<std::int64_t> mixed(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) mixed[(i * 211) % labels.size()] = labels[i];
    return mixed;
}

// Draw counts per class over the given epochs.
std::vector<double> class_draws(const lt::Sampler& sampler, const std::vector<std::int64_t>& labels, int first_epoch,
                                int epochs) {
    std::vector<double> draws(6, 0.0);
    for (int epoch = first_epoch; epoch < first_epoch + epochs; ++epoch)
        for (std::size_t index : sampler.epoch_indices(epoch)) draws[static_cast<std::size_t>(labels.at(index))] += 1;
    return draws;
}

// Pearson's chi-square of observed counts against probabilities q (classes
// with q = 0 must have no draw).
double chi_square(const std::vector<double>& observed, const std::vector<double>& q) {
    double total = std::accumulate(observed.begin(), observed.end(), 0.0), statistic = 0;
    for (std::size_t j = 0; j < q.size(); ++j) {
        if (q[j] == 0) {
            REQUIRE(observed[j] == 0);
            continue;
        }
        double expected = total * q[j];
        statistic += (observed[j] - expected) * (observed[j] - expected) / expected;
    }
    return statistic;
}

// 4 degrees of freedom (5 classes): P(chi2 > 30) < 1e-5, while a sampler off
// by a few percent on any class gives hundreds over 100k draws.
constexpr double kChiSquareBound = 30.0;
constexpr int kEpochs = 200;  // 200 x 535 = 107,000 draws

}  // namespace

TEST_CASE("sampler names") {
    CHECK(lt::parse_sampler_kind("instance") == lt::SamplerKind::instance);
    CHECK(lt::parse_sampler_kind("uniform") == lt::SamplerKind::instance);
    CHECK(lt::parse_sampler_kind("sqrt") == lt::SamplerKind::square_root);
    CHECK(lt::parse_sampler_kind("class-aware") == lt::SamplerKind::class_aware);
    CHECK(lt::parse_sampler_kind("progressive") == lt::SamplerKind::progressive);
    CHECK(lt::sampler_name(lt::SamplerKind::square_root) == "sqrt");
    CHECK_THROWS_AS(lt::parse_sampler_kind("balanced"), lt::UsageError);
    CHECK_THROWS_AS(lt::Sampler({}, {}), lt::Error);
}

TEST_CASE("instance sampling: each epoch is a permutation of all images") {
    auto labels = long_tail_labels();
    lt::Sampler sampler(labels, {lt::SamplerKind::instance, 3});
    auto first = sampler.epoch_indices(0), second = sampler.epoch_indices(1);
    CHECK(first != second);
    std::sort(first.begin(), first.end());
    std::vector<std::size_t> all(labels.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    CHECK(first == all);
    auto q = sampler.class_probabilities(0);
    CHECK(q[0] == doctest::Approx(400.0 / 535));
    CHECK(q[3] == 0);
}

TEST_CASE("square-root sampling: q_j = sqrt(n_j) / sum sqrt(n)") {
    auto labels = long_tail_labels();
    lt::Sampler sampler(labels, {lt::SamplerKind::square_root, 1});
    // sqrt of 400, 100, 25, 9, 1 = 20, 10, 5, 3, 1: sum 39.
    const std::vector<double> q = {20 / 39.0, 10 / 39.0, 5 / 39.0, 0, 3 / 39.0, 1 / 39.0};
    auto closed_form = sampler.class_probabilities(0);
    for (std::size_t j = 0; j < q.size(); ++j) CHECK(closed_form[j] == doctest::Approx(q[j]));

    auto draws = class_draws(sampler, labels, 0, kEpochs);
    CHECK(chi_square(draws, q) < kChiSquareBound);
    // The instance frequencies are far off: the test can tell samplers apart.
    CHECK(chi_square(draws, {400 / 535.0, 100 / 535.0, 25 / 535.0, 0, 9 / 535.0, 1 / 535.0}) > 1000);

    // Within a class, every image is equally likely: class 4's 9 images.
    std::map<std::size_t, double> per_image;
    for (int epoch = 0; epoch < kEpochs; ++epoch)
        for (std::size_t index : sampler.epoch_indices(epoch))
            if (labels[index] == 4) per_image[index] += 1;
    REQUIRE(per_image.size() == 9);
    std::vector<double> observed;
    for (auto& [index, count] : per_image) observed.push_back(count);
    CHECK(chi_square(observed, std::vector<double>(9, 1.0 / 9)) < 37.0);  // 8 dof, P < 1e-5
}

TEST_CASE("class-aware sampling: uniform over classes, 4 images of a class per draw") {
    auto labels = long_tail_labels();
    lt::Sampler sampler(labels, {lt::SamplerKind::class_aware, 2});
    auto indices = sampler.epoch_indices(0);
    REQUIRE(indices.size() == labels.size());
    for (std::size_t group = 0; group + 4 <= indices.size(); group += 4)
        for (std::size_t k = 1; k < 4; ++k) REQUIRE(labels[indices[group + k]] == labels[indices[group]]);

    // Within a class the images come in a shuffled cycle: class 4's first 9
    // images of the epoch are its 9 distinct images.
    std::vector<std::size_t> of_class_4;
    for (std::size_t index : indices)
        if (labels[index] == 4 && of_class_4.size() < 9) of_class_4.push_back(index);
    std::sort(of_class_4.begin(), of_class_4.end());
    CHECK(std::adjacent_find(of_class_4.begin(), of_class_4.end()) == of_class_4.end());

    auto draws = class_draws(sampler, labels, 0, kEpochs);
    const std::vector<double> q = {0.2, 0.2, 0.2, 0, 0.2, 0.2};
    // Classes come in shuffled cycles, so the counts are even closer to uniform
    // than independent draws would be.
    CHECK(chi_square(draws, q) < kChiSquareBound);
    for (std::size_t j : {0, 1, 2, 4, 5}) CHECK(draws[j] / (kEpochs * 535.0) == doctest::Approx(0.2).epsilon(0.01));
}

TEST_CASE("progressive sampling: from instance to class-balanced") {
    auto labels = long_tail_labels();
    lt::SamplerOptions options{lt::SamplerKind::progressive, 4, 10};
    lt::Sampler sampler(labels, options);
    const std::vector<double> instance = {400 / 535.0, 100 / 535.0, 25 / 535.0, 0, 9 / 535.0, 1 / 535.0};
    for (int epoch : {0, 5, 10, 12}) {
        double t = std::min(epoch, 10) / 10.0;
        auto q = sampler.class_probabilities(epoch);
        for (std::size_t j = 0; j < q.size(); ++j)
            CHECK(q[j] == doctest::Approx((1 - t) * instance[j] + (instance[j] > 0 ? t / 5 : 0)));
    }
    // Epoch 5 (t = 1/2), drawn 200 times over: re-seeding per epoch is what
    // the draws of epoch 5 of differently seeded samplers give.
    std::vector<double> draws(6, 0.0);
    for (std::uint64_t seed = 0; seed < kEpochs; ++seed) {
        lt::Sampler seeded(labels, {lt::SamplerKind::progressive, seed, 10});
        for (std::size_t index : seeded.epoch_indices(5)) draws[static_cast<std::size_t>(labels[index])] += 1;
    }
    CHECK(chi_square(draws, sampler.class_probabilities(5)) < kChiSquareBound);
}

TEST_CASE("samplers are deterministic and resumable by (seed, epoch)") {
    auto labels = long_tail_labels();
    for (auto kind : {lt::SamplerKind::instance, lt::SamplerKind::square_root, lt::SamplerKind::class_aware,
                      lt::SamplerKind::progressive}) {
        lt::Sampler first(labels, {kind, 9, 4}), resumed(labels, {kind, 9, 4}), other(labels, {kind, 10, 4});
        CHECK(first.epoch_indices(3) == resumed.epoch_indices(3));
        CHECK(first.epoch_indices(3) != first.epoch_indices(2));
        CHECK(first.epoch_indices(3) != other.epoch_indices(3));
    }
}
