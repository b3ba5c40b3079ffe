// lt-train's schedule and losses, lt-extract's shards, and state dicts in
// HDF5, against values computed by hand.
#include "lt/base/error.hpp"
#include "lt/learn/extract.hpp"
#include "lt/learn/train.hpp"
#include "lt/learn/weights.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

TEST_CASE("learning rate: linear warm-up, then cosine decay to 0 per step") {
    using lt::train::learning_rate;
    // No warm-up: (1 + cos(pi * step / total)) / 2 of the base rate.
    CHECK(learning_rate(0.1, 0, 10, 0) == doctest::Approx(0.1));
    CHECK(learning_rate(0.1, 5, 10, 0) == doctest::Approx(0.05));
    CHECK(learning_rate(0.1, 9, 10, 0) == doctest::Approx(0.1 * (1 + std::cos(M_PI * 0.9)) / 2));
    // Two warm-up steps: 1/2 and 2/2 of the base rate, then the decay over the other 8.
    CHECK(learning_rate(0.2, 0, 10, 2) == doctest::Approx(0.1));
    CHECK(learning_rate(0.2, 1, 10, 2) == doctest::Approx(0.2));
    CHECK(learning_rate(0.2, 2, 10, 2) == doctest::Approx(0.2));
    CHECK(learning_rate(0.2, 6, 10, 2) == doctest::Approx(0.1));
    CHECK(learning_rate(0.2, 9, 10, 2) == doctest::Approx(0.2 * (1 + std::cos(M_PI * 7 / 8)) / 2));
}

TEST_CASE("losses: cross-entropy, and balanced softmax adds log n_j to the logits") {
    const at::Tensor logits = at::tensor({1.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f}).reshape({2, 3});
    const at::Tensor targets = at::tensor({std::int64_t{2}, std::int64_t{0}});
    // -log softmax: row 1 target 2: log(e + e^2 + e^3) - 3; row 2 uniform: log 3.
    const double ce = (std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3 + std::log(3.0)) / 2;
    CHECK(lt::train::classification_loss(logits, targets, at::Tensor()).item<double>() == doctest::Approx(ce));
    // Counts 1, e, e^2: the logits become 1, 3, 5 and 0, 1, 2.
    const at::Tensor log_counts = at::tensor({0.0f, 1.0f, 2.0f});
    const double balanced = (std::log(std::exp(1.0) + std::exp(3.0) + std::exp(5.0)) - 5 +
                             std::log(1 + std::exp(1.0) + std::exp(2.0)) - 0) / 2;
    CHECK(lt::train::classification_loss(logits, targets, log_counts).item<double>() == doctest::Approx(balanced));
}

// NT-Xent by its definition, in doubles, one anchor at a time.
double nt_xent_by_hand(const std::vector<std::vector<double>>& first, const std::vector<std::vector<double>>& second,
                       double temperature) {
    std::vector<std::vector<double>> z = first;
    z.insert(z.end(), second.begin(), second.end());
    for (auto& row : z) {
        double norm = 0;
        for (double v : row) norm += v * v;
        for (double& v : row) v /= std::sqrt(norm);
    }
    const std::size_t n = first.size();
    double total = 0;
    for (std::size_t i = 0; i < 2 * n; ++i) {
        double denominator = 0, positive = 0;
        for (std::size_t j = 0; j < 2 * n; ++j) {
            if (j == i) continue;
            double dot = 0;
            for (std::size_t d = 0; d < z[i].size(); ++d) dot += z[i][d] * z[j][d];
            denominator += std::exp(dot / temperature);
            if (j == (i + n) % (2 * n)) positive = std::exp(dot / temperature);
        }
        total += -std::log(positive / denominator);
    }
    return total / static_cast<double>(2 * n);
}

at::Tensor rows_tensor(const std::vector<std::vector<double>>& rows) {
    std::vector<float> flat;
    for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
    return at::tensor(flat).reshape({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

TEST_CASE("NT-Xent: SimCLR's contrastive loss, against its definition and closed forms") {
    using lt::train::nt_xent_loss;
    // One image: its other view is the only candidate, the loss is 0 whatever the rows.
    CHECK(nt_xent_loss(at::tensor({1.0f, 2.0f}).reshape({1, 2}), at::tensor({-3.0f, 0.5f}).reshape({1, 2}), 0.5)
              .item<double>() == doctest::Approx(0).epsilon(1e-6));
    // Two images, views equal, the images orthogonal: each anchor has its
    // positive at similarity 1/t and two negatives, at 0 and 0: -log(e^{1/t} / (e^{1/t} + 2)).
    const double t = 0.5;
    const double orthogonal = -std::log(std::exp(1 / t) / (std::exp(1 / t) + 2));
    const at::Tensor axes = at::tensor({3.0f, 0.0f, 0.0f, 0.5f}).reshape({2, 2});  // scale does not matter
    CHECK(nt_xent_loss(axes, axes, t).item<double>() == doctest::Approx(orthogonal));
    // A small batch of 3 images in 4 dimensions, against the loop.
    const std::vector<std::vector<double>> first = {{0.3, -1.2, 0.5, 2.0}, {1.0, 0.1, -0.4, 0.0}, {-0.7, 0.9, 1.5, -0.2}};
    const std::vector<std::vector<double>> second = {{0.1, -1.0, 0.9, 1.5}, {-0.3, 0.8, 0.2, 0.6}, {-1.1, 0.2, 1.0, 0.4}};
    for (double temperature : {0.1, 0.5, 2.0})
        CHECK(nt_xent_loss(rows_tensor(first), rows_tensor(second), temperature).item<double>() ==
              doctest::Approx(nt_xent_by_hand(first, second, temperature)).epsilon(1e-5));
    // The views of an image swapped: the same loss (the loss is symmetric in the views).
    CHECK(nt_xent_loss(rows_tensor(second), rows_tensor(first), 0.5).item<double>() ==
          doctest::Approx(nt_xent_by_hand(first, second, 0.5)).epsilon(1e-5));
}

TEST_CASE("shards: I/N with 1 <= I <= N, contiguous ranges covering every row once") {
    using lt::extract::parse_shard;
    CHECK(parse_shard("2/4").index == 2);
    CHECK(parse_shard("2/4").count == 4);
    CHECK(parse_shard("1/1").count == 1);
    for (const char* bad : {"3/2", "0/0", "0/3", "x", "1/", "/2", "-1/2", "1/2/3", " 1/2", "1/2 ", "", "1/0"})
        CHECK_THROWS_AS(parse_shard(bad), lt::UsageError);
    const auto [a0, a1] = lt::extract::shard_rows(23, {1, 3});
    const auto [b0, b1] = lt::extract::shard_rows(23, {2, 3});
    const auto [c0, c1] = lt::extract::shard_rows(23, {3, 3});
    CHECK(a0 == 0);
    CHECK(a1 == 7);
    CHECK(b0 == 7);
    CHECK(b1 == 15);
    CHECK(c0 == 15);
    CHECK(c1 == 23);
    const auto [e0, e1] = lt::extract::shard_rows(2, {1, 3});  // more shards than rows: some are empty
    CHECK(e0 == e1);
}

TEST_CASE("state dicts: written and read back with shapes, types and scalars") {
    lt::test::TempFolder dir;
    lt::models::StateDict entries;
    entries.emplace_back("conv1.weight", torch::arange(24, torch::kFloat).reshape({2, 3, 2, 2}));
    entries.emplace_back("bn1.num_batches_tracked", torch::full({}, 7, torch::kLong));
    entries.emplace_back("scale", torch::full({}, 16.5f));
    {
        lt::h5::OutputFile out(dir.file("w.h5"), "model");
        lt::h5::Group group = out.create_group("backbone");
        lt::weights::write_state_dict(group, entries);
        out.commit();
    }
    lt::h5::InputFile in(dir.file("w.h5"));
    const lt::models::StateDict back = lt::weights::read_state_dict(in.group("backbone"));
    REQUIRE(back.size() == 3);  // in name order
    CHECK(back[0].first == "bn1.num_batches_tracked");
    CHECK((back[0].second.scalar_type() == torch::kLong));
    CHECK(back[0].second.dim() == 0);
    CHECK(back[0].second.item<std::int64_t>() == 7);
    CHECK(back[1].first == "conv1.weight");
    CHECK(back[1].second.equal(entries[0].second));
    CHECK(back[2].second.item<float>() == 16.5f);
    CHECK(lt::weights::fingerprint(back) != lt::weights::fingerprint({back[0], back[2], back[1]}));
    lt::models::StateDict changed = {back[0], back[1], {"scale", torch::full({}, 16.25f)}};
    CHECK(lt::weights::fingerprint(back) != lt::weights::fingerprint(changed));
    CHECK(lt::weights::fingerprint(back) == lt::weights::fingerprint(lt::weights::read_state_dict(in.group("backbone"))));
}

TEST_CASE("exact loading refuses missing and unexpected keys") {
    auto backbone = lt::models::make_backbone("resnet20");
    lt::models::StateDict entries = lt::models::state_dict(*backbone);
    CHECK_NOTHROW(lt::weights::load_exact(*backbone, entries, "model.h5"));
    lt::models::StateDict fewer(entries.begin() + 1, entries.end());
    CHECK_THROWS_WITH_AS(lt::weights::load_exact(*backbone, fewer, "model.h5"), "model.h5 lacks conv1.weight",
                         lt::SchemaError);
    entries.emplace_back("fc.weight", torch::zeros({10, 64}));
    CHECK_THROWS_AS(lt::weights::load_exact(*backbone, entries, "model.h5"), lt::SchemaError);
}
