// Attention and composition (Eq. 4-7, 9) against closed forms: three classes
// in 2-D where every attention weight is a ratio of exponentials.
#include "lt/base/error.hpp"
#include "lt/transfer/attend.hpp"

#include <doctest/doctest.h>

#include <cmath>

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
