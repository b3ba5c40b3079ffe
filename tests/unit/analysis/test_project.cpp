// lt-project's PCA on a hand-computed case.
#include "lt/analysis/project.hpp"

#include <doctest/doctest.h>

TEST_CASE("project: pca2 of points on two axes") {
    // Centred already; variance along x is 2 (sum of squares), along y 0.5:
    // PC1 = x, PC2 = y, explained 2/2.5 and 0.5/2.5. Each component's largest
    // loading is made positive, so the signs are fixed.
    lt::Matrix rows(4, 3);
    rows.values = {1, 0, 0, -1, 0, 0, 0, 0.5f, 0, 0, -0.5f, 0};
    double explained[2];
    std::vector<double> xy = lt::project::pca2(rows, explained);
    REQUIRE(xy.size() == 8);
    CHECK(explained[0] == doctest::Approx(0.8));
    CHECK(explained[1] == doctest::Approx(0.2));
    const double expected[8] = {1, 0, -1, 0, 0, 0.5, 0, -0.5};
    for (int i = 0; i < 8; ++i) CHECK(xy[i] == doctest::Approx(expected[i]).epsilon(1e-9));
}

TEST_CASE("project: pca2 centres the points") {
    lt::Matrix rows(2, 2);
    rows.values = {3, 1, 5, 1};  // mean (4, 1); one direction
    double explained[2];
    std::vector<double> xy = lt::project::pca2(rows, explained);
    CHECK(explained[0] == doctest::Approx(1.0));
    CHECK(xy[0] == doctest::Approx(-1.0));
    CHECK(xy[2] == doctest::Approx(1.0));
}
