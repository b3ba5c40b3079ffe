// Portable randomness: the same seed gives the same numbers with every
// standard library. std::mt19937_64 is fully specified by the standard, but
// std::uniform_*_distribution and std::shuffle are not, so the few
// distributions the data side needs are written here.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>
#include <utility>
#include <vector>

namespace lt {

using Rng = std::mt19937_64;

// A generator for one independent stream of a seeded computation, e.g.
// make_rng(seed, {epoch, position}) for one sample of one epoch. The words are
// hashed (SplitMix64), so nearby seeds give unrelated streams.
Rng make_rng(std::uint64_t seed, std::initializer_list<std::uint64_t> stream = {});

// Uniform integer in [0, n), n > 0; unbiased (rejection sampling).
std::uint64_t uniform_index(Rng& rng, std::uint64_t n);

// Uniform integer in [low, high] (both included), low <= high.
std::int64_t uniform_int(Rng& rng, std::int64_t low, std::int64_t high);

// Uniform double in [0, 1) with 53 random bits.
double uniform_unit(Rng& rng);

// Uniform double in [low, high).
double uniform_real(Rng& rng, double low, double high);

// Fisher–Yates shuffle.
template <class T>
void shuffle(std::vector<T>& items, Rng& rng) {
    for (std::size_t i = items.size(); i > 1; --i) {
        std::size_t j = static_cast<std::size_t>(uniform_index(rng, i));
        std::swap(items[i - 1], items[j]);
    }
}

// 0, 1, ..., n-1 in a random order.
std::vector<std::size_t> random_permutation(std::size_t n, Rng& rng);

}  // namespace lt
