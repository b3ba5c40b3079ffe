// Attention and composition (Eq. 4-7, 9) against closed forms: three classes
// in 2-D where every attention weight is a ratio of exponentials.
#include "lt/base/error.hpp"
#include "lt/transfer/attend.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using lt::Classifier;
using lt::Matrix;
using lt::Prototypes;

namespace {

Matrix matrix(std::int64_t rows, std::int64_t cols, std::vector<float> values) {
    Matrix m(rows, cols);
    m.values = std::move(values);
    return m;
}

// w0 = (1,0), w1 = (0,1), w2 = (0,-1); n = 200, 50, 5.
Classifier three_classes() {
    Classifier c;
    c.scale = 12;
    c.weights = matrix(3, 2, {2, 0, 0, 3, 0, -1});  // unnormalised on purpose
    c.class_ids = {0, 1, 2};
    c.class_counts = {200, 50, 5};
    return c;
}

// p0 = (1,0), p1 = (0,1), p2 = (-1,0).
Prototypes three_prototypes() {
    Prototypes p;
    p.prototypes = matrix(3, 2, {0.5f, 0, 0, 0.25f, -4, 0});
    p.class_ids = {0, 1, 2};
    p.counts = {200, 50, 5};
    return p;
}

const float* row_of(const Classifier& c, std::int64_t id) {
    for (std::size_t i = 0; i < c.class_ids.size(); ++i)
        if (c.class_ids[i] == id) return c.weights.row(static_cast<std::int64_t>(i));
    FAIL("class " << id << " missing");
    return nullptr;
}

}  // namespace

TEST_CASE("p2w attention with k = 20 matches the closed form") {
    lt::attend::Settings settings;
    settings.k = 20;  // sources: classes 0 and 1 (n > 20)
    Classifier out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    CHECK(out.class_ids == std::vector<std::int64_t>{0, 1, 2});
    CHECK(out.scale == doctest::Approx(12));
    CHECK(out.composition.at("terms") == "kt,p,w");

    // Class 2: query p2 = (-1,0); scores tau * (-1, 0) -> alpha = (e^-10, 1) / (1 + e^-10);
    // kt = alpha0 * w0 + alpha1 * w1 = (e^-10, 1) / Z, normalised: (e^-10, 1) / sqrt(e^-20 + 1).
    double a = std::exp(-10.0), norm = std::sqrt(a * a + 1);
    const float* w2 = row_of(out, 2);
    CHECK(w2[0] == doctest::Approx(a / norm - 1 + 0).epsilon(1e-6));  // kt + p2 (-1,0) + w2 (0,-1)
    CHECK(w2[1] == doctest::Approx(1 / norm + 0 - 1).epsilon(1e-6));

    // Class 1: query (0,1): alpha = (1, e^10) / (1 + e^10); kt = (1, e^10) / sqrt(1 + e^20).
    double b = std::exp(10.0), norm1 = std::sqrt(1 + b * b);
    const float* w1 = row_of(out, 1);
    CHECK(w1[0] == doctest::Approx(1 / norm1).epsilon(1e-6));
    CHECK(w1[1] == doctest::Approx(b / norm1 + 1 + 1).epsilon(1e-6));
}

TEST_CASE("k = 0 uses every class as a source, the class itself included") {
    lt::attend::Settings settings;
    settings.terms = {"kt"};
    settings.tau = 1;
    Classifier out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    // Class 0: query (1,0): scores (1, 0, 0) -> alpha = (e, 1, 1) / (e + 2);
    // kt = (e, 1 - 1) / Z = (1, 0) after normalisation.
    CHECK(row_of(out, 0)[0] == doctest::Approx(1));
    CHECK(row_of(out, 0)[1] == doctest::Approx(0).epsilon(1e-7));
    // Class 1: query (0,1): scores (0, 1, -1) -> alpha = (1, e, 1/e) / Z;
    // kt = (1, e - 1/e) / sqrt(1 + (e - 1/e)^2).
    double e = std::exp(1.0), y = e - 1 / e, norm = std::sqrt(1 + y * y);
    CHECK(row_of(out, 1)[0] == doctest::Approx(1 / norm));
    CHECK(row_of(out, 1)[1] == doctest::Approx(y / norm));
}

TEST_CASE("the other attention roles swap queries and keys") {
    lt::attend::Settings settings;
    settings.terms = {"kt"};
    settings.tau = 1;
    settings.k = 20;
    // w2p: query w^_2 = (0,-1); keys/values p^_0 = (1,0), p^_1 = (0,1):
    // scores (0, -1) -> alpha = (1, 1/e) / Z; kt = (1, 1/e) normalised.
    settings.mode = "w2p";
    Classifier out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    double e = std::exp(1.0), norm = std::sqrt(1 + 1 / (e * e));
    CHECK(row_of(out, 2)[0] == doctest::Approx(1 / norm));
    CHECK(row_of(out, 2)[1] == doctest::Approx(1 / e / norm));
    // p2p: query p^_2 = (-1,0); keys/values p^_0, p^_1: scores (-1, 0) -> kt = (1/e, 1) normalised.
    settings.mode = "p2p";
    out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    CHECK(row_of(out, 2)[0] == doctest::Approx(1 / e / norm));
    CHECK(row_of(out, 2)[1] == doctest::Approx(1 / norm));
    // w2w: query w^_2 = (0,-1); keys/values w^_0, w^_1: scores (0, -1) -> kt = (1, 1/e) normalised.
    settings.mode = "w2w";
    out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    CHECK(row_of(out, 2)[0] == doctest::Approx(1 / norm));
    CHECK(row_of(out, 2)[1] == doctest::Approx(1 / e / norm));
}

TEST_CASE("terms give the classifier, the prototypes and their sum") {
    lt::attend::Settings settings;
    settings.terms = {"p", "w"};
    Classifier out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    CHECK(row_of(out, 1)[0] == doctest::Approx(0));
    CHECK(row_of(out, 1)[1] == doctest::Approx(2));  // p^_1 + w^_1 = (0,1) + (0,1)
    CHECK(row_of(out, 2)[0] == doctest::Approx(-1));
    CHECK(row_of(out, 2)[1] == doctest::Approx(-1));
}

TEST_CASE("continual composition builds rows for classes that only have a prototype") {
    Classifier classifier = three_classes();
    Prototypes prototypes = three_prototypes();
    prototypes.prototypes = matrix(4, 2, {1, 0, 0, 1, -1, 0, 1, 1});
    prototypes.class_ids = {0, 1, 2, 7};
    prototypes.counts = {200, 50, 5, 3};
    lt::attend::Settings settings;
    settings.k = 20;
    CHECK_THROWS_WITH_AS(lt::attend::compose(classifier, prototypes, settings),
                         doctest::Contains("class 7 needs w"), lt::Error);
    settings.terms = {"kt", "p"};
    Classifier out = lt::attend::compose(classifier, prototypes, settings);
    CHECK(out.class_ids == std::vector<std::int64_t>{0, 1, 2, 7});
    CHECK(out.class_counts == std::vector<std::int64_t>{200, 50, 5, 3});
    // Class 7: query (1,1)/sqrt2, keys w0, w1 score equally: kt = (1,1)/sqrt2; + p^_7.
    CHECK(row_of(out, 7)[0] == doctest::Approx(std::sqrt(2.0)));
    CHECK(row_of(out, 7)[1] == doctest::Approx(std::sqrt(2.0)));
}

TEST_CASE("bad settings and inputs are clear errors") {
    lt::attend::Settings settings;
    settings.k = 200;  // no class has more than 200 samples
    CHECK_THROWS_WITH_AS(lt::attend::compose(three_classes(), three_prototypes(), settings),
                         doctest::Contains("leaves no source class"), lt::Error);
    Prototypes wide = three_prototypes();
    wide.prototypes = matrix(3, 3, {1, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK_THROWS_WITH_AS(lt::attend::compose(three_classes(), wide, lt::attend::Settings{}),
                         doctest::Contains("dimension mismatch"), lt::Error);
    CHECK(lt::attend::parse_terms("w,kt") == std::vector<std::string>{"kt", "w"});
    CHECK_THROWS_AS(lt::attend::parse_terms("kt,x"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_terms("p,p"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_terms(""), lt::UsageError);
}

TEST_CASE("a very large tau is a hard maximum, not NaN") {
    lt::attend::Settings settings;
    settings.terms = {"kt"};
    settings.tau = 1e6;
    settings.k = 20;
    Classifier out = lt::attend::compose(three_classes(), three_prototypes(), settings);
    for (float value : out.weights.values) CHECK(std::isfinite(value));
    CHECK(row_of(out, 2)[1] == doctest::Approx(1));  // class 2's nearest source is w1
}

namespace {

// 40 classes in 8-D with a long tail of counts, prototypes near the rows.
void random_inputs(Classifier& classifier, Prototypes& prototypes) {
    std::mt19937 generator(3);
    std::normal_distribution<float> normal;
    classifier.weights = Matrix(40, 8);
    prototypes.prototypes = Matrix(40, 8);
    for (auto& v : classifier.weights.values) v = normal(generator);
    for (std::size_t i = 0; i < prototypes.prototypes.values.size(); ++i)
        prototypes.prototypes.values[i] = classifier.weights.values[i] + 0.5f * normal(generator);
    for (int c = 0; c < 40; ++c) {
        classifier.class_ids.push_back(c);
        classifier.class_counts.push_back(200 / (c + 1));
    }
    prototypes.class_ids = classifier.class_ids;
    prototypes.counts = classifier.class_counts;
}

}  // namespace

TEST_CASE("a sweep gives each value's classifier, whatever the blocks") {
    Classifier classifier;
    Prototypes prototypes;
    random_inputs(classifier, prototypes);
    lt::attend::Sweep sweep;
    sweep.ks = {0, 5, 20};
    sweep.taus = {10, 2.5};
    for (std::int64_t block : {0, 1, 7}) {
        sweep.block_rows = block;
        std::vector<std::vector<float>> rows(sweep.size());
        auto described = lt::attend::compose_sweep(
            classifier, prototypes, sweep, lt::math::cpu_backend(),
            [&](std::size_t v, std::int64_t first, std::int64_t count, const float* values) {
                CHECK(static_cast<std::int64_t>(rows[v].size()) == first * 8);
                rows[v].insert(rows[v].end(), values, values + count * 8);
            });
        REQUIRE(described.size() == 6);
        for (std::size_t v = 0; v < sweep.size(); ++v) {
            const lt::attend::Settings settings = sweep.at(v);
            CHECK(described[v].composition.at("k") == std::to_string(settings.k));
            Classifier single = lt::attend::compose(classifier, prototypes, settings);
            REQUIRE(rows[v].size() == single.weights.values.size());
            for (std::size_t i = 0; i < rows[v].size(); ++i)
                CHECK(rows[v][i] == doctest::Approx(single.weights.values[i]).epsilon(1e-6));
        }
    }
    CHECK(sweep.at(1).k == 0);
    CHECK(sweep.at(1).tau == 2.5);
    CHECK(sweep.at(2).k == 5);
}

TEST_CASE("the double path of a large tau agrees with the float path where both hold") {
    // tau = 100 is the last float one; 100.0001 takes double: the rows agree.
    Classifier classifier;
    Prototypes prototypes;
    random_inputs(classifier, prototypes);
    lt::attend::Settings settings;
    settings.k = 5;
    settings.tau = 100;
    Classifier in_float = lt::attend::compose(classifier, prototypes, settings);
    settings.tau = 100.0001;
    Classifier in_double = lt::attend::compose(classifier, prototypes, settings);
    for (std::size_t i = 0; i < in_float.weights.values.size(); ++i)
        CHECK(in_float.weights.values[i] == doctest::Approx(in_double.weights.values[i]).epsilon(1e-4));
}

TEST_CASE("compose_rows gives the rows of compose for the classes asked") {
    Classifier classifier;
    Prototypes prototypes;
    random_inputs(classifier, prototypes);
    lt::attend::Settings settings;
    settings.k = 5;
    Classifier all = lt::attend::compose(classifier, prototypes, settings);
    Classifier some = lt::attend::compose_rows(classifier, prototypes, settings, {31, 2});
    CHECK(some.class_ids == std::vector<std::int64_t>{31, 2});
    for (int d = 0; d < 8; ++d) {
        CHECK(some.weights.row(0)[d] == doctest::Approx(all.weights.row(31)[d]).epsilon(1e-6));
        CHECK(some.weights.row(1)[d] == doctest::Approx(all.weights.row(2)[d]).epsilon(1e-6));
    }
}

TEST_CASE("sweep values are parsed, and repeats refused") {
    CHECK(lt::attend::parse_ks("0,5,100") == std::vector<std::int64_t>{0, 5, 100});
    CHECK(lt::attend::parse_taus("10,0.5") == std::vector<double>{10, 0.5});
    CHECK_THROWS_AS(lt::attend::parse_ks("0,5,5"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_ks("0,,5"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_ks("-1"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_ks("2.5"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_taus("inf"), lt::UsageError);
    CHECK_THROWS_AS(lt::attend::parse_taus("nan"), lt::UsageError);
    CHECK(lt::attend::output_path("wh{k}-{tau}.h5", 20, 0.5) == "wh20-0.5.h5");
    CHECK(lt::attend::output_path("{k}/{k}.h5", 3, 10) == "3/3.h5");
}

namespace {

// Cosines of unit rows x with the rows of a composed classifier, in double.
std::vector<double> cosines(const std::vector<float>& x, std::int64_t rows, const Classifier& composed) {
    const std::int64_t dim = composed.weights.cols, classes = composed.weights.rows;
    std::vector<double> out(static_cast<std::size_t>(rows * classes));
    for (std::int64_t c = 0; c < classes; ++c) {
        const float* w = composed.weights.row(c);
        double norm = 0;
        for (std::int64_t d = 0; d < dim; ++d) norm += double(w[d]) * w[d];
        for (std::int64_t r = 0; r < rows; ++r) {
            double dot = 0;
            for (std::int64_t d = 0; d < dim; ++d) dot += double(x[r * dim + d]) * w[d];
            out[r * classes + c] = dot / std::sqrt(norm);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("SweepScorer scores every value as its composed classifier does") {
    Classifier classifier;
    Prototypes prototypes;
    random_inputs(classifier, prototypes);
    // A new class 40, with a prototype only (for the continual terms).
    prototypes.prototypes.values.insert(prototypes.prototypes.values.end(), {1, -1, 0, 2, 0, 0, 1, 0});
    prototypes.prototypes.rows = 41;
    prototypes.class_ids.push_back(40);
    prototypes.counts.push_back(3);
    std::mt19937 generator(11);
    std::normal_distribution<float> normal;
    const std::int64_t rows = 13, dim = 8;
    std::vector<float> x(rows * dim);
    for (auto& v : x) v = normal(generator);
    for (std::int64_t r = 0; r < rows; ++r) {
        double norm = 0;
        for (std::int64_t d = 0; d < dim; ++d) norm += double(x[r * dim + d]) * x[r * dim + d];
        for (std::int64_t d = 0; d < dim; ++d) x[r * dim + d] = static_cast<float>(x[r * dim + d] / std::sqrt(norm));
    }
    struct Case {
        std::string mode;
        std::vector<std::string> terms;
        bool with_new_class;
    };
    for (const Case& c : {Case{"p2w", {"kt", "p", "w"}, false}, Case{"w2p", {"kt", "w"}, false},
                          Case{"p2p", {"kt", "p"}, true}, Case{"p2w", {"p", "w"}, false}}) {
        CAPTURE(c.mode);
        Prototypes used = prototypes;
        if (!c.with_new_class) {
            used.prototypes.values.resize(40 * 8);
            used.prototypes.rows = 40;
            used.class_ids.pop_back();
            used.counts.pop_back();
        }
        lt::attend::Sweep sweep;
        sweep.ks = {20, 0, 5};
        sweep.taus = {10, 2.5};
        sweep.mode = c.mode;
        sweep.terms = c.terms;
        sweep.block_rows = 7;
        lt::attend::SweepScorer scorer(classifier, used, sweep, lt::math::cpu_backend());
        REQUIRE(scorer.classifiers().size() == sweep.size());
        std::vector<int> seen(sweep.size(), 0);
        scorer.score(x.data(), rows, [&](std::size_t v, float* scores) {
            ++seen[v];
            const Classifier composed = lt::attend::compose(classifier, used, sweep.at(v));
            CHECK(scorer.classifiers()[v].class_ids == composed.class_ids);
            CHECK(scorer.classifiers()[v].composition.at("k") == std::to_string(sweep.at(v).k));
            const std::vector<double> expected = cosines(x, rows, composed);
            for (std::size_t i = 0; i < expected.size(); ++i) CHECK(scores[i] == doctest::Approx(expected[i]).epsilon(1e-5));
        });
        for (int count : seen) CHECK(count == 1);
    }
    lt::attend::Sweep hot;
    hot.taus = {31};
    CHECK_THROWS_AS(lt::attend::SweepScorer(classifier, prototypes, hot, lt::math::cpu_backend()), lt::UsageError);
}
