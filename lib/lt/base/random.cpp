#include "lt/base/random.hpp"

#include <limits>
#include <numeric>

namespace lt {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

Rng make_rng(std::uint64_t seed, std::initializer_list<std::uint64_t> stream) {
    std::uint64_t state = seed;
    std::uint64_t mixed = splitmix64(state);
    for (std::uint64_t word : stream) {
        state ^= word + 0x632BE59BD9B4E019ull;
        mixed = splitmix64(state);
    }
    return Rng(mixed);
}

std::uint64_t uniform_index(Rng& rng, std::uint64_t n) {
    // Reject the lowest (2^64 mod n) values so every residue is equally likely.
    std::uint64_t threshold = (0 - n) % n;
    for (;;) {
        std::uint64_t x = rng();
        if (x >= threshold) return x % n;
    }
}

std::int64_t uniform_int(Rng& rng, std::int64_t low, std::int64_t high) {
    std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) + 1;
    if (span == 0) return static_cast<std::int64_t>(rng());  // the full 64-bit range
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + uniform_index(rng, span));
}

double uniform_unit(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double uniform_real(Rng& rng, double low, double high) {
    return low + (high - low) * uniform_unit(rng);
}

std::vector<std::size_t> random_permutation(std::size_t n, Rng& rng) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    shuffle(order, rng);
    return order;
}

}  // namespace lt
