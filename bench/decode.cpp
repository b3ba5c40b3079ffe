// Decoding speed of lt's image reader (lt::decode_image_rgb): every image of
// a list, read into memory first, decoded ROUNDS times on one thread. Prints
// images per second and megapixels per second, the best of the rounds, and
// how many images decode to exactly the pixels of OpenCV's imdecode.
//   bench_decode LIST ROOT [ROUNDS=5]
#include "lt/image/images.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_decode LIST ROOT [ROUNDS]\n");
        return 2;
    }
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
    const lt::ImageDataset dataset = lt::open_image_dataset(argv[1], argv[2]);
    std::vector<std::string> files;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < dataset.size(); ++i) {
        std::ifstream file(dataset.image_path(i), std::ios::binary);
        files.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
        bytes += files.back().size();
    }
    double best = 1e300, pixels = 0;
    for (int round = 0; round < rounds; ++round) {
        pixels = 0;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < files.size(); ++i) {
            const cv::Mat image = lt::decode_image_rgb(files[i], dataset.image_path(i));
            pixels += static_cast<double>(image.total());
        }
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::size_t identical = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const cv::Mat ours = lt::decode_image_rgb(files[i], dataset.image_path(i));
        cv::Mat encoded(1, static_cast<int>(files[i].size()), CV_8UC1, files[i].data()), theirs;
        cv::cvtColor(cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION), theirs, cv::COLOR_BGR2RGB);
        identical += ours.size() == theirs.size() && cv::norm(ours, theirs, cv::NORM_INF) == 0;
    }
    std::printf("%zu of %zu images decode to exactly OpenCV's pixels\n", identical, files.size());
    std::printf("%zu images (%.1f MB): %.0f images/s, %.1f Mpixel/s (best of %d rounds, %.3f s)\n", files.size(),
                static_cast<double>(bytes) / 1e6, static_cast<double>(files.size()) / best, pixels / best / 1e6,
                rounds, best);
    return 0;
}
