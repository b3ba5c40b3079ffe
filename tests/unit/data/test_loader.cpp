// The batch loader on tiny generated PNGs: order, contents, determinism
// across thread counts, and errors that name the file and the list line.
#include "lt/base/error.hpp"
#include "lt/data/loader.hpp"
#include "lt/data/samplers.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <fstream>
#include <numeric>

namespace {

constexpr int kImages = 12;
constexpr int kSide = 8;

// kImages grey PNGs, image i filled with value 10 * i, label i % 3, listed
// in train.txt (one path with a space).
struct TinyDataset {
    lt::test::TempFolder folder;
    std::string list;

    TinyDataset() {
        std::string text;
        for (int i = 0; i < kImages; ++i) {
            std::string name = i == 5 ? "img five.png" : "img" + std::to_string(i) + ".png";
            cv::Mat image(kSide, kSide, CV_8UC1, cv::Scalar(10 * i));
            REQUIRE(cv::imwrite(folder.file(name), image));
            text += name + " " + std::to_string(i % 3) + "\r\n";
        }
        list = folder.write("train.txt", text);
    }
    lt::ImageDataset dataset() const { return lt::open_image_dataset(list, folder.path().string()); }
};

std::vector<lt::Batch> all_batches(lt::BatchLoader& loader, std::vector<std::size_t> order, std::uint64_t epoch) {
    loader.start_epoch(std::move(order), epoch);
    std::vector<lt::Batch> batches;
    lt::Batch batch;
    while (loader.next(batch)) batches.push_back(std::move(batch));
    return batches;
}

std::vector<std::size_t> identity_order() {
    std::vector<std::size_t> order(kImages);
    std::iota(order.begin(), order.end(), std::size_t{0});
    return order;
}

}  // namespace

TEST_CASE("loader: batches in the given order with the images' pixels and labels") {
    TinyDataset tiny;
    lt::LoaderOptions options;
    options.batch_size = 5;
    options.workers = 3;
    options.prefetch_batches = 1;
    lt::BatchLoader loader(tiny.dataset(), lt::image_transform("small", false, kSide), options);

    std::vector<std::size_t> order = {11, 3, 5, 0, 7, 2, 9, 1, 4, 6, 8, 10};
    auto batches = all_batches(loader, order, 0);
    REQUIRE(batches.size() == 3);
    CHECK(batches[0].size() == 5);
    CHECK(batches[2].size() == 2);
    CHECK(batches[2].number == 2);
    CHECK(batches[0].height == kSide);
    const std::size_t floats = 3 * kSide * kSide;
    for (std::size_t b = 0; b < batches.size(); ++b) {
        const lt::Batch& batch = batches[b];
        REQUIRE(batch.images.size() == batch.size() * floats);
        for (std::size_t k = 0; k < batch.size(); ++k) {
            std::size_t index = order[b * 5 + k];
            CHECK(batch.indices[k] == index);
            CHECK(batch.labels[k] == static_cast<std::int64_t>(index % 3));
            // Grey value 10 i in every channel, normalised with ImageNet's mean/std.
            float value = static_cast<float>(10 * index) / 255.0f;
            CHECK(batch.images[k * floats] == (value - 0.485f) / 0.229f);                       // R, first pixel
            CHECK(batch.images[k * floats + floats - 1] == (value - 0.406f) / 0.225f);          // B, last pixel
        }
    }
}

TEST_CASE("loader: the same batches whatever the number of workers; drop_last") {
    TinyDataset tiny;
    auto transform = lt::image_transform("small", true, kSide);
    lt::Sampler sampler(tiny.dataset().labels(), {lt::SamplerKind::square_root, 1});
    std::vector<std::vector<lt::Batch>> runs;
    for (int workers : {1, 4}) {
        lt::LoaderOptions options;
        options.batch_size = 4;
        options.workers = workers;
        options.seed = 17;
        lt::BatchLoader loader(tiny.dataset(), transform, options);
        runs.push_back(all_batches(loader, sampler.epoch_indices(2), 2));
    }
    REQUIRE(runs[0].size() == runs[1].size());
    for (std::size_t b = 0; b < runs[0].size(); ++b) {
        CHECK(runs[0][b].indices == runs[1][b].indices);
        CHECK(runs[0][b].images == runs[1][b].images);
    }

    lt::LoaderOptions options;
    options.batch_size = 5;
    options.drop_last = true;
    lt::BatchLoader loader(tiny.dataset(), transform, options);
    auto epoch_a = all_batches(loader, identity_order(), 0);
    CHECK(epoch_a.size() == 2);
    CHECK(loader.batch_count() == 2);
    // Another epoch re-seeds the augmentations; the same epoch repeats them.
    auto epoch_b = all_batches(loader, identity_order(), 1);
    auto epoch_a_again = all_batches(loader, identity_order(), 0);
    CHECK(epoch_a[0].images != epoch_b[0].images);
    CHECK(epoch_a[0].images == epoch_a_again[0].images);
}

TEST_CASE("loader: an abandoned epoch does not leak into the next") {
    TinyDataset tiny;
    lt::LoaderOptions options;
    options.batch_size = 2;
    options.workers = 2;
    lt::BatchLoader loader(tiny.dataset(), lt::image_transform("small", false, kSide), options);
    loader.start_epoch(identity_order(), 0);
    lt::Batch batch;
    REQUIRE(loader.next(batch));
    auto batches = all_batches(loader, {4, 2, 0}, 1);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].indices == std::vector<std::size_t>{4, 2});
    CHECK(batches[1].indices == std::vector<std::size_t>{0});
}

TEST_CASE("loader: a missing or corrupt image is an lt::Error naming the file and the list line") {
    TinyDataset tiny;
    std::filesystem::remove(tiny.folder.file("img7.png"));
    std::filesystem::remove(tiny.folder.file("img8.png"));
    tiny.folder.write("img9.png", "\x89PNG\r\n\x1a\n but then nothing");
    lt::LoaderOptions options;
    options.batch_size = 3;
    options.workers = 4;
    lt::BatchLoader loader(tiny.dataset(), lt::image_transform("small", false, kSide), options);
    loader.start_epoch(identity_order(), 0);
    lt::Batch batch;
    REQUIRE(loader.next(batch));  // images 0-2
    REQUIRE(loader.next(batch));  // images 3-5
    // Images 7 and 8 of batch 6-8 are missing: the first in order is reported, every time.
    CHECK_THROWS_WITH_AS(loader.next(batch),
                         doctest::Contains(("img7.png': No such file or directory (" + tiny.list + " line 8)").c_str()),
                         lt::Error);
    CHECK_THROWS_AS(loader.next(batch), lt::Error);

    loader.start_epoch({9}, 1);
    CHECK_THROWS_WITH_AS(loader.next(batch),
                         doctest::Contains(("cannot decode image '" + tiny.folder.file("img9.png") + "'").c_str()), lt::Error);
    CHECK_THROWS_WITH_AS(loader.next(batch), doctest::Contains("line 10)"), lt::Error);

    CHECK_THROWS_AS(loader.start_epoch({99}, 2), lt::Error);
}

TEST_CASE("loader: an image the transform cannot take is an lt::Error naming the file and the list line") {
    TinyDataset tiny;
    // A 1 x 600,000 strip: its shorter side resized to 4096 would make the
    // longer one more pixels than an int counts.
    REQUIRE(cv::imwrite(tiny.folder.file("img4.png"), cv::Mat(1, 600000, CV_8UC1, cv::Scalar(0))));
    lt::ImageTransform transform = lt::image_transform("small", false, kSide);
    transform.resize_side = 4096;
    lt::LoaderOptions options;
    options.batch_size = 2;
    options.workers = 2;
    lt::BatchLoader loader(tiny.dataset(), transform, options);
    loader.start_epoch({3, 4}, 0);
    lt::Batch batch;
    CHECK_THROWS_WITH_AS(loader.next(batch),
                         ("cannot transform image '" + tiny.folder.file("img4.png") +
                          "' of 600000x1 pixels: its shorter side cannot be resized to 4096 (the longer side would "
                          "have more than 2147483647 pixels) (" + tiny.list + " line 5)")
                             .c_str(),
                         lt::Error);
}

namespace {
// Host memory that counts what it hands out, filled with a marker so that a
// batch read from it shows the loader wrote every float.
struct CountingMemory : lt::HostMemory {
    std::size_t allocated = 0, released = 0, bytes = 0;
    void* allocate(std::size_t size) override {
        ++allocated;
        bytes += size;
        auto* block = static_cast<float*>(::operator new(size));
        std::fill(block, block + size / sizeof(float), -1e30f);
        return block;
    }
    void release(void* pointer) noexcept override {
        ++released;
        ::operator delete(pointer);
    }
};
}  // namespace

TEST_CASE("loader: batches in the host memory given, with the heap's contents") {
    TinyDataset tiny;
    const auto transform = lt::image_transform("small", true, kSide);
    lt::LoaderOptions options;
    options.batch_size = 5;
    options.seed = 3;
    std::vector<lt::Batch> on_heap, given;
    {
        lt::BatchLoader loader(tiny.dataset(), transform, options);
        on_heap = all_batches(loader, identity_order(), 1);
    }
    auto memory = std::make_shared<CountingMemory>();
    options.host_memory = memory;
    {
        lt::BatchLoader loader(tiny.dataset(), transform, options);
        given = all_batches(loader, identity_order(), 1);
    }
    REQUIRE(given.size() == 3);
    CHECK(memory->allocated == 3);  // one block per batch
    CHECK(memory->bytes == std::size_t{kImages} * 3 * kSide * kSide * sizeof(float));
    for (std::size_t b = 0; b < given.size(); ++b) CHECK(given[b].images == on_heap[b].images);
    given.clear();
    CHECK(memory->released == 3);
}
