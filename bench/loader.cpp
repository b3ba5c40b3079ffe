// Throughput of lt's batch loader (lt::BatchLoader): every image of a list
// decoded and transformed by WORKERS threads into batches, as lt-train
// (imagenet train transform: RandomResizedCrop 224, flip, ColorJitter) or
// lt-extract (eval: Resize 256, CenterCrop 224) feed their network. Prints
// images per second over ROUNDS epochs after a first one that warms the
// file cache. It must exceed the GPU's images/s for the GPU to stay fed.
//   bench_loader LIST ROOT WORKERS [train|eval] [BATCH=256] [ROUNDS=2]
#include "lt/data/loader.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: bench_loader LIST ROOT WORKERS [train|eval] [BATCH] [ROUNDS]\n");
        return 2;
    }
    const bool train = argc <= 4 || std::string(argv[4]) != "eval";
    lt::LoaderOptions options;
    options.workers = std::max(1, std::atoi(argv[3]));
    options.batch_size = argc > 5 ? std::atoi(argv[5]) : 256;
    const int rounds = argc > 6 ? std::atoi(argv[6]) : 2;
    lt::BatchLoader loader(lt::open_image_dataset(argv[1], argv[2]), lt::image_transform("imagenet", train), options);
    std::vector<std::size_t> order(loader.dataset().size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    double seconds = 0;
    std::size_t images = 0;
    for (int round = 0; round <= rounds; ++round) {
        const auto start = std::chrono::steady_clock::now();
        loader.start_epoch(order, static_cast<std::uint64_t>(round));
        lt::Batch batch;
        std::size_t seen = 0;
        while (loader.next(batch)) seen += batch.size();
        if (round == 0) continue;  // the file cache
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        images += seen;
    }
    std::printf("loader %s, %d workers: %.0f images/s (%zu images in %.2f s)\n", train ? "train" : "eval",
                options.workers, static_cast<double>(images) / seconds, images, seconds);
}
