// Baseline for bench/eval.sh: the best float32 GEMM this machine runs, the
// scores of lt-eval's product [N, D] x [D, C] by OpenBLAS's sgemm (what
// NumPy's float32 matmul calls too), with the output allocated and written
// once beforehand (no page faults in the timing), after a warm-up call, best
// of `repeat` calls.
//   bench_mm N C D [threads] [repeat]
#include "lt/math/blas.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: bench_mm N C D [threads] [repeat]\n");
        return 2;
    }
    const long n = std::atol(argv[1]), c = std::atol(argv[2]), d = std::atol(argv[3]);
    const int threads = argc > 4 ? std::atoi(argv[4]) : static_cast<int>(std::thread::hardware_concurrency());
    const int repeat = argc > 5 ? std::atoi(argv[5]) : 3;
    lt::math::set_threads(threads);
    std::mt19937 generator(0);
    std::normal_distribution<float> normal;
    std::vector<float> features(static_cast<std::size_t>(n * d)), weights(static_cast<std::size_t>(c * d)),
        scores(static_cast<std::size_t>(n * c), 0.0f);
    for (auto& v : features) v = normal(generator);
    for (auto& v : weights) v = normal(generator);
    auto product = [&] { lt::math::gemm_nt(n, c, d, features.data(), d, weights.data(), d, scores.data(), c); };
    product();  // warm up OpenBLAS (its buffers, the caches)
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
        auto start = std::chrono::steady_clock::now();
        product();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("%.4f %.1f\n", best, 2.0 * n * c * d / best / 1e9);  // seconds GFLOP/s
    return 0;
}
