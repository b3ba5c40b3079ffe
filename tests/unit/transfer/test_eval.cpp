// Evaluation (groups, totals, ensembles, within-group) and prototypes on
// small hand-computed cases, written through the real file format.
#include "lt/base/error.hpp"
#include "lt/transfer/eval.hpp"
#include "lt/transfer/protos.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using lt::Classifier;
using lt::ClassifierSet;
using lt::Matrix;

namespace {

Matrix matrix(std::int64_t rows, std::int64_t cols, std::vector<float> values) {
    Matrix m(rows, cols);
    m.values = std::move(values);
    return m;
}

std::string write_features(const lt::test::TempFolder& dir, const Matrix& features, const std::vector<std::int64_t>& labels) {
    std::string path = dir.file("feats.h5");
    lt::h5::OutputFile out(path, "features");
    lt::write_features(out, features, labels);
    out.commit();
    return path;
}

Classifier cosine(std::vector<float> weights, std::vector<std::int64_t> ids, std::vector<std::int64_t> counts,
                  double scale = 16) {
    Classifier c;
    c.scale = scale;
    c.weights = matrix(static_cast<std::int64_t>(ids.size()), 2, std::move(weights));
    c.class_ids = std::move(ids);
    c.class_counts = std::move(counts);
    return c;
}

}  // namespace

TEST_CASE("group accuracies are means of per-class accuracies; total is over samples") {
    lt::test::TempFolder dir;
    // Class 10 (many, n=500): 3 samples, 2 right. Class 20 (medium, n=50): 1 sample, right.
    // Class 30 (few, n=5): 2 samples, none right (they point at class 10).
    Matrix features = matrix(6, 2, {1, 0, 1, 0.1f, 0, 1, 0, 1, 1, 0, 2, 0.1f});
    std::string path = write_features(dir, features, {10, 10, 10, 20, 30, 30});
    ClassifierSet set{"c", {cosine({1, 0, 0, 1, -1, -1}, {10, 20, 30}, {500, 50, 5})}};
    lt::FeaturesReader reader(path);
    auto results = lt::eval::evaluate(reader, {set}, lt::eval::Settings{});
    REQUIRE(results.size() == 1);
    CHECK(results[0].many == doctest::Approx(100.0 * 2 / 3));
    CHECK(results[0].medium == doctest::Approx(100));
    CHECK(results[0].few == doctest::Approx(0));
    CHECK(results[0].total == doctest::Approx(100.0 * 3 / 6));
    CHECK(results[0].class_mean == doctest::Approx((200.0 / 3 + 100 + 0) / 3));
    CHECK(results[0].top5 == doctest::Approx(100));  // 3 classes: all within the top 5

    SUBCASE("--within-group restricts candidates to the sample's group") {
        lt::eval::Settings settings;
        settings.within_group = true;
        auto within = lt::eval::evaluate(reader, {set}, settings);
        CHECK(within[0].few == doctest::Approx(100));  // class 30 is the only few candidate
        CHECK(within[0].many == doctest::Approx(100));
    }
    SUBCASE("--counts regroups the classes and must cover every test label") {
        lt::eval::Settings settings;
        settings.counts = std::map<std::int64_t, std::int64_t>{{10, 5}, {20, 500}, {30, 50}};
        auto regrouped = lt::eval::evaluate(reader, {set}, settings);
        CHECK(regrouped[0].many == doctest::Approx(100));       // class 20
        CHECK(regrouped[0].medium == doctest::Approx(0));       // class 30
        CHECK(regrouped[0].few == doctest::Approx(200.0 / 3));  // class 10
        settings.counts->erase(30);
        CHECK_THROWS_WITH_AS(lt::eval::evaluate(reader, {set}, settings), doctest::Contains("test label 30"),
                             lt::Error);
    }
    SUBCASE("a test class the classifier lacks counts as an error") {
        ClassifierSet partial{"p", {cosine({1, 0, 0, 1}, {10, 20}, {500, 50})}};
        auto missing = lt::eval::evaluate(reader, {partial}, lt::eval::Settings{});
        CHECK(missing[0].total == doctest::Approx(100.0 * 3 / 6));
        CHECK(std::isnan(missing[0].few));  // class 30 has no group without --counts
        CHECK(missing[0].ungrouped == 0);   // it is ungrouped, with accuracy 0
        CHECK(missing[0].ungrouped_classes == 1);
        CHECK(missing[0].missing_ids == std::vector<std::int64_t>{30});
        CHECK(missing[0].missing_samples == 2);
        CHECK(lt::eval::missing_rows_warning(missing[0], false) ==
              "p: no row for 1 test class (2 of 6 test samples), id 30: counted as errors (accuracy 0) in the "
              "ungrouped column (no training count)");
        // With --counts it is few-shot, accuracy 0 in the few group.
        lt::eval::Settings settings;
        settings.counts = std::map<std::int64_t, std::int64_t>{{10, 500}, {20, 50}, {30, 5}};
        auto counted = lt::eval::evaluate(reader, {partial}, settings);
        CHECK(counted[0].few == 0);
        CHECK(counted[0].classes[2] == 1);
        CHECK(std::isnan(counted[0].ungrouped));
        CHECK(lt::eval::format_results(counted, "tsv").find("ungrouped") == std::string::npos);
        CHECK(lt::eval::format_results(missing, "tsv") == "name\tmany\tmedium\tfew\ttotal\tungrouped\n"
                                                         "p\t66.66666666666667\t100\tnan\t50\t0\n");
    }
}

TEST_CASE("an ensemble averages probabilities, not logits (Eq. 8)") {
    lt::test::TempFolder dir;
    std::string path = write_features(dir, matrix(1, 2, {1, 0}), {0});
    // Member A: logits (10, 0). Members B, C: logits (0, 3).
    // Mean of logits (3.33, 2) would pick class 0; mean of probabilities
    // ((1 + 2 e^0/(1+e^3)) / 3, ...) = (0.365, 0.635) picks class 1.
    Classifier a = cosine({1, 0, 0, 1}, {0, 1}, {100, 100}, 10);
    Classifier b = cosine({0, 1, 1, 0}, {0, 1}, {100, 100}, 3);
    ClassifierSet ensemble{"e", {a, b, b}};
    lt::FeaturesReader reader(path);
    std::vector<std::vector<std::int64_t>> predictions;
    lt::eval::evaluate(reader, {ensemble}, lt::eval::Settings{}, &predictions);
    CHECK(predictions[0][0] == 1);
    ClassifierSet single{"a", {a}};
    lt::eval::evaluate(reader, {single}, lt::eval::Settings{}, &predictions);
    CHECK(predictions[0][0] == 0);
}

TEST_CASE("groups follow the strict thresholds") {
    const lt::GroupThresholds groups{100, 20};
    CHECK(groups.of(101) == lt::ShotGroup::many);
    CHECK(groups.of(100) == lt::ShotGroup::medium);
    CHECK(groups.of(20) == lt::ShotGroup::medium);
    CHECK(groups.of(19) == lt::ShotGroup::few);
}

TEST_CASE("formats: tsv at full precision, table rounded, nan for empty groups") {
    lt::eval::Result r;
    r.name = "x";
    r.many = 100.0 / 3;
    r.medium = std::nan("");
    r.few = 12.25;
    r.total = 50;
    CHECK(lt::eval::format_results({r}, "tsv") ==
          "name\tmany\tmedium\tfew\ttotal\nx\t33.333333333333336\tnan\t12.25\t50\n");
    CHECK(lt::eval::format_results({r}, "table").find("  33.3       -    12.2    50.0") != std::string::npos);
    CHECK(lt::eval::format_results({r}, "json").find("\"medium\": null") != std::string::npos);
}

TEST_CASE("prototypes are means of normalised features (Eq. 3)") {
    lt::test::TempFolder dir;
    // Class 0: (3,4) -> (0.6,0.8) and (0,2) -> (0,1): mean (0.3, 0.9). Class 5: (1,0).
    std::string path = write_features(dir, matrix(4, 2, {3, 4, 0, 2, 7, 0, 9, 9}), {0, 0, 5, -1});
    lt::FeaturesReader reader(path);
    lt::Prototypes p = lt::protos::compute(reader);
    CHECK(p.class_ids == std::vector<std::int64_t>{0, 5});
    CHECK(p.counts == std::vector<std::int64_t>{2, 1});
    CHECK(p.prototypes.row(0)[0] == doctest::Approx(0.3));
    CHECK(p.prototypes.row(0)[1] == doctest::Approx(0.9));
    CHECK(p.prototypes.row(1)[0] == doctest::Approx(1));
}

TEST_CASE("blocks of any size, the bfloat16 screen or float32: the same accuracies and predictions") {
    // 200 classes in 16-D, 1000 samples near their class means: near ties
    // are common, so the screen's candidates get settled exactly.
    lt::test::TempFolder dir;
    std::mt19937 generator(7);
    std::normal_distribution<float> normal;
    const int classes = 200, dim = 16, samples = 1000;
    Matrix means(classes, dim), features(samples, dim);
    for (auto& v : means.values) v = normal(generator);
    std::vector<std::int64_t> labels, ids, counts;
    for (int c = 0; c < classes; ++c) {
        ids.push_back(c);
        counts.push_back(5 + (c * 37) % 300);
    }
    for (int i = 0; i < samples; ++i) {
        labels.push_back(i % classes);
        for (int d = 0; d < dim; ++d) features.row(i)[d] = means.row(i % classes)[d] + 0.8f * normal(generator);
    }
    std::string path = write_features(dir, features, labels);
    Classifier classifier;
    classifier.weights = means;
    classifier.class_ids = ids;
    classifier.class_counts = counts;
    ClassifierSet set{"c", {classifier}};
    lt::FeaturesReader reader(path);
    lt::eval::Settings reference;
    reference.screen = lt::math::Screen::never;
    std::vector<std::vector<std::int64_t>> expected, actual;
    auto want = lt::eval::evaluate(reader, {set}, reference, &expected);
    for (std::int64_t block : {1, 7, 1000}) {
        for (auto screen : {lt::math::Screen::never, lt::math::Screen::always}) {
            lt::eval::Settings settings;
            settings.block_rows = block;
            settings.screen = screen;
            auto got = lt::eval::evaluate(reader, {set}, settings, &actual);
            CHECK(got[0].total == want[0].total);
            CHECK(got[0].top5 == want[0].top5);
            CHECK(got[0].many == want[0].many);
            CHECK(actual == expected);
        }
    }
    CHECK(want[0].total > 20);  // the case is not degenerate
    CHECK(want[0].total < 95);
}
