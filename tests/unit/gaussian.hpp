// Seeded standard-normal values for the numerical tests (the same numbers
// on every run).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace lt::test {

template <class T = float>
std::vector<T> gaussian(std::int64_t count, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<T> normal;
    std::vector<T> values(static_cast<std::size_t>(count));
    for (auto& v : values) v = normal(generator);
    return values;
}

}  // namespace lt::test
