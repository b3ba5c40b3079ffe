// Baseline for bench/eval.sh: the throughput of a plain LibTorch matrix
// product [N, D] x [D, C] on this machine, with the same thread count.
//   bench_mm N C D [threads]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: bench_mm N C D [threads]\n");
        return 2;
    }
    const long n = std::atol(argv[1]), c = std::atol(argv[2]), d = std::atol(argv[3]);
    const int threads = argc > 4 ? std::atoi(argv[4]) : static_cast<int>(std::thread::hardware_concurrency());
    at::set_num_threads(threads);
    at::manual_seed(0);
    at::Tensor features = at::randn({n, d}), weights = at::randn({c, d});
    at::mm(features.narrow(0, 0, 256), weights.t());  // warm up BLAS
    auto start = std::chrono::steady_clock::now();
    at::Tensor scores = at::mm(features, weights.t());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.3f %.1f\n", seconds, 2.0 * n * c * d / seconds / 1e9);  // seconds GFLOP/s
    return scores.size(0) == n ? 0 : 1;
}
