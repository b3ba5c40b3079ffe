// Transforms against hand computations of torchvision's semantics.
#include "lt/base/error.hpp"
#include "lt/base/random.hpp"
#include "lt/image/images.hpp"
#include "lt/image/transforms.hpp"

#include <doctest/doctest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

// An RGB image whose pixel (y, x) is (y, x, y + x) modulo 256.
cv::Mat coordinate_image(int height, int width) {
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(y), static_cast<uchar>(x),
                                                  static_cast<uchar>((y + x) % 256));
    return image;
}

}  // namespace

TEST_CASE("center crop offsets follow torchvision: round half to even") {
    auto box = lt::center_crop_box(256, 256, 224, 224);
    CHECK(box.top == 16);
    CHECK(box.left == 16);
    CHECK(lt::center_crop_box(257, 259, 224, 224).top == 16);   // 16.5 -> 16
    CHECK(lt::center_crop_box(257, 259, 224, 224).left == 18);  // 17.5 -> 18
    CHECK(lt::center_crop_box(6, 6, 3, 3).top == 2);            // 1.5 -> 2
    // Larger than the image: centred with zero padding (left pad = diff // 2).
    CHECK(lt::center_crop_box(200, 224, 224, 224).top == -12);
    CHECK(lt::center_crop_box(201, 224, 224, 224).top == -11);
}

TEST_CASE("center crop of a known image gives the known pixels") {
    cv::Mat image = coordinate_image(6, 7);
    cv::Mat crop = lt::center_crop(image, 3);
    REQUIRE(crop.rows == 3);
    REQUIRE(crop.cols == 3);
    // top = round(1.5) = 2, left = round(2.0) = 2
    CHECK(crop.at<cv::Vec3b>(0, 0) == cv::Vec3b(2, 2, 4));
    CHECK(crop.at<cv::Vec3b>(2, 1) == cv::Vec3b(4, 3, 7));

    cv::Mat padded = lt::center_crop(coordinate_image(2, 2), 4);  // 1 pixel of zeros around
    CHECK(padded.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 0, 0));
    CHECK(padded.at<cv::Vec3b>(1, 1) == cv::Vec3b(0, 0, 0));  // source (0,0) is all zeros too
    CHECK(padded.at<cv::Vec3b>(2, 2) == cv::Vec3b(1, 1, 2));
    CHECK(padded.at<cv::Vec3b>(3, 3) == cv::Vec3b(0, 0, 0));
}

TEST_CASE("normalisation: (x / 255 - mean) / std per channel, CHW") {
    cv::Mat image(1, 2, CV_8UC3);
    image.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 0, 51);
    image.at<cv::Vec3b>(0, 1) = cv::Vec3b(0, 102, 255);
    std::vector<float> out(6);
    lt::to_chw_normalized(image, {0.5f, 0.25f, 0.0f}, {0.5f, 0.25f, 2.0f}, out.data());
    // Plane R: (1 - .5)/.5, (0 - .5)/.5; plane G: (0 - .25)/.25, (.4 - .25)/.25; plane B: .2/2, 1/2
    CHECK(out[0] == doctest::Approx(1.0));
    CHECK(out[1] == doctest::Approx(-1.0));
    CHECK(out[2] == doctest::Approx(-1.0));
    CHECK(out[3] == doctest::Approx(0.6));
    CHECK(out[4] == doctest::Approx(0.1));
    CHECK(out[5] == doctest::Approx(0.5));
}

TEST_CASE("imagenet eval on a 256x256 image: no resampling, the center 224 crop, normalised") {
    cv::Mat image = coordinate_image(256, 256);
    auto transform = lt::image_transform("imagenet", false);
    REQUIRE(transform.size == 224);
    std::vector<float> out(transform.floats_per_image());
    lt::Rng rng(1);
    transform.apply(image, rng, out.data());
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    const std::size_t plane = 224 * 224;
    for (int y : {0, 1, 100, 223})
        for (int x : {0, 57, 223}) {
            const float source[3] = {float(y + 16), float(x + 16), float((y + x + 32) % 256)};
            for (int c = 0; c < 3; ++c)
                CHECK(out[c * plane + y * 224 + x] == (source[c] / 255.0f - mean[c]) / std[c]);
        }
}

TEST_CASE("resizing: none when the size matches; shorter side as torchvision") {
    cv::Mat image = coordinate_image(30, 40);
    CHECK(lt::resize_to(image, 30, 40).data == image.data);
    cv::Mat resized = lt::resize_shorter_side(image, 256);
    CHECK(resized.rows == 256);
    CHECK(resized.cols == 341);  // int(256 * 40 / 30)
    cv::Mat tall = lt::resize_shorter_side(coordinate_image(40, 30), 15);
    CHECK(tall.rows == 20);
    CHECK(tall.cols == 15);
    // A constant image stays constant whatever the interpolation.
    cv::Mat grey(50, 50, CV_8UC3, cv::Scalar(9, 9, 9));
    cv::Mat small = lt::resize_to(grey, 7, 7);
    CHECK(cv::countNonZero(small.reshape(1) != 9) == 0);
}

TEST_CASE("resize then center crop: the crop of the full resize, without making it for a long strip") {
    // Every case of the two passes: both, horizontal or vertical only, none,
    // and a crop larger than the image (padded).
    for (auto [height, width, side, size] : {std::array<int, 4>{30, 40, 17, 13}, {37, 23, 37, 20}, {23, 37, 23, 20},
                                             {40, 40, 40, 40}, {9, 12, 9, 11}, {300, 257, 256, 224}}) {
        INFO(height << "x" << width << " to " << side << ", crop " << size);
        const cv::Mat image = coordinate_image(height, width);
        const cv::Mat both = lt::resize_shorter_side_and_center_crop(image, side, size);
        const cv::Mat full = lt::center_crop(lt::resize_shorter_side(image, side), size);
        REQUIRE(both.size() == full.size());
        CHECK(cv::norm(both, full, cv::NORM_INF) == 0);
    }
    // A 1 x 600,000 strip: its full resize to a shorter side of 256 would be
    // 118 GB; the 224 x 224 centre of it is the strip's colour.
    const cv::Mat strip(1, 600000, CV_8UC3, cv::Scalar(12, 34, 56));
    const cv::Mat centre = lt::resize_shorter_side_and_center_crop(strip, 256, 224);
    REQUIRE(centre.size() == cv::Size(224, 224));
    CHECK(cv::norm(centre, cv::Mat(224, 224, CV_8UC3, cv::Scalar(12, 34, 56)), cv::NORM_INF) == 0);
    // Beyond what an int can index: an lt::Error, not a crash.
    CHECK_THROWS_WITH_AS(lt::resize_shorter_side_and_center_crop(strip, 4096, 8),
                         "its shorter side cannot be resized to 4096 (the longer side would have more than "
                         "2147483647 pixels)",
                         lt::Error);
}

TEST_CASE("horizontal flip mirrors columns") {
    cv::Mat image = coordinate_image(3, 5);
    cv::Mat flipped = lt::horizontal_flip(image);
    for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 5; ++x) CHECK(flipped.at<cv::Vec3b>(y, x) == image.at<cv::Vec3b>(y, 4 - x));
}

TEST_CASE("pad-and-crop: a shift by -4..4 in each axis, zeros outside, all shifts reached") {
    cv::Mat image = coordinate_image(32, 32) + cv::Scalar(1, 1, 1);  // no zero pixel inside
    std::set<std::pair<int, int>> shifts;
    lt::Rng rng(7);
    for (int draw = 0; draw < 2000; ++draw) {
        cv::Mat crop = lt::pad_and_random_crop(image, 32, 4, rng);
        REQUIRE(crop.rows == 32);
        // Find the shift from an interior pixel, then check every pixel against it.
        cv::Vec3b centre = crop.at<cv::Vec3b>(16, 16);
        int dy = centre[0] - 1 - 16, dx = centre[1] - 1 - 16;
        REQUIRE(std::abs(dy) <= 4);
        REQUIRE(std::abs(dx) <= 4);
        for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 32; ++x) {
                int sy = y + dy, sx = x + dx;
                bool inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
                cv::Vec3b expected = inside ? image.at<cv::Vec3b>(sy, sx) : cv::Vec3b(0, 0, 0);
                REQUIRE(crop.at<cv::Vec3b>(y, x) == expected);
            }
        shifts.insert({dy, dx});
    }
    CHECK(shifts.size() == 81);
}

TEST_CASE("random-resized-crop boxes: inside the image, scale and ratio in range; fallback") {
    lt::Rng rng(3);
    for (int draw = 0; draw < 2000; ++draw) {
        auto box = lt::random_resized_crop_box(300, 400, rng);
        REQUIRE(box.top >= 0);
        REQUIRE(box.left >= 0);
        REQUIRE(box.top + box.height <= 300);
        REQUIRE(box.left + box.width <= 400);
        double area = double(box.height) * box.width / (300.0 * 400.0);
        double ratio = double(box.width) / box.height;
        // Rounding width and height to pixels moves both a little.
        REQUIRE(area >= 0.07);
        REQUIRE(ratio >= 0.70);
        REQUIRE(ratio <= 1.40);
    }
    // A 1 x 1000 strip: no attempt fits, so the centre crop clamped to ratio 4/3.
    auto box = lt::random_resized_crop_box(1, 1000, rng);
    CHECK(box.height == 1);
    CHECK(box.width == 1);  // round(1 * 4/3)
    CHECK(box.top == 0);
    CHECK(box.left == 499);
    cv::Mat crop = lt::random_resized_crop(coordinate_image(64, 48), 16, rng);
    CHECK(crop.rows == 16);
    CHECK(crop.cols == 16);
}

TEST_CASE("colour jitter: brightness scales, contrast blends with the mean grey, saturation with each grey") {
    cv::Mat image(4, 4, CV_32FC3);
    for (int i = 0; i < 16; ++i)
        image.at<cv::Vec3f>(i / 4, i % 4) = cv::Vec3f(0.3f + 0.02f * i, 0.6f - 0.02f * i, 0.45f);  // no clamping
    auto grey_of = [](const cv::Vec3f& p) { return 0.2989f * p[0] + 0.587f * p[1] + 0.114f * p[2]; };

    lt::Rng rng(11);
    cv::Mat bright = image.clone();
    lt::ColorJitter{0.4, 0, 0}.apply(bright, rng);
    float factor = bright.at<cv::Vec3f>(0, 1)[0] / image.at<cv::Vec3f>(0, 1)[0];
    CHECK(factor >= 0.6f);
    CHECK(factor <= 1.4f);
    CHECK(factor != doctest::Approx(1.0f));
    for (int i = 0; i < 16; ++i)
        for (int c = 0; c < 3; ++c)
            CHECK(bright.at<cv::Vec3f>(i / 4, i % 4)[c] ==
                  doctest::Approx(std::min(1.0f, factor * image.at<cv::Vec3f>(i / 4, i % 4)[c])));

    cv::Mat contrasted = image.clone();
    lt::ColorJitter{0, 0.4, 0}.apply(contrasted, rng);
    float mean = 0;
    for (int i = 0; i < 16; ++i) mean += grey_of(image.at<cv::Vec3f>(i / 4, i % 4)) / 16;
    // out = f x + (1 - f) mean: recover f from one value, check the others.
    float x0 = image.at<cv::Vec3f>(0, 0)[1], y0 = contrasted.at<cv::Vec3f>(0, 0)[1];
    float f = (y0 - mean) / (x0 - mean);
    CHECK(f >= 0.6f);
    CHECK(f <= 1.4f);
    for (int i = 0; i < 16; ++i)
        for (int c = 0; c < 3; ++c)
            CHECK(contrasted.at<cv::Vec3f>(i / 4, i % 4)[c] ==
                  doctest::Approx(f * image.at<cv::Vec3f>(i / 4, i % 4)[c] + (1 - f) * mean).epsilon(1e-4));

    // A grey image has nothing to saturate.
    cv::Mat grey(2, 2, CV_32FC3, cv::Scalar(0.4, 0.4, 0.4));
    cv::Mat saturated = grey.clone();
    lt::ColorJitter{0, 0, 0.4}.apply(saturated, rng);
    CHECK(cv::norm(saturated, grey, cv::NORM_INF) < 1e-4);
}

TEST_CASE("train transforms are deterministic given the generator's seed") {
    cv::Mat image = coordinate_image(40, 50);
    for (const char* preset : {"imagenet", "small"}) {
        auto transform = lt::image_transform(preset, true, 24);
        std::vector<float> first(transform.floats_per_image()), again(first.size()), other(first.size());
        lt::Rng a(5), b(5), c(6);
        transform.apply(image, a, first.data());
        transform.apply(image, b, again.data());
        transform.apply(image, c, other.data());
        CHECK(first == again);
        CHECK(first != other);
    }
}

TEST_CASE("presets") {
    auto imagenet = lt::image_transform("imagenet", true);
    CHECK(imagenet.size == 224);
    CHECK(imagenet.geometry == lt::ImageTransform::Geometry::random_resized_crop);
    CHECK(imagenet.flip);
    CHECK(imagenet.jitter.brightness == 0.4);
    CHECK(lt::image_transform("imagenet", false, 112).resize_side == 128);
    auto small = lt::image_transform("small", true);
    CHECK(small.size == 32);
    CHECK(small.geometry == lt::ImageTransform::Geometry::pad_and_crop);
    CHECK_FALSE(small.jitter.enabled());
    CHECK_THROWS_AS(lt::image_transform("cifar", true), lt::UsageError);

    // small eval of an image already at the size: the pixels, normalised.
    cv::Mat image = coordinate_image(28, 28);
    auto eval = lt::image_transform("small", false, 28);
    std::vector<float> out(eval.floats_per_image());
    lt::Rng rng(0);
    eval.apply(image, rng, out.data());
    CHECK(out[28 * 3 + 5] == (3 / 255.0f - 0.485f) / 0.229f);  // R plane, (y=3, x=5): R = y
}

TEST_CASE("resizing uses PIL's bilinear filter: antialiased when shrinking (hand-computed)") {
    // Shrinking 4 -> 2: scale 2, the triangle filter is 2 pixels wide each side.
    // Output 0 centres at 1.0 and weighs pixels 0, 1, 2 by 3/7, 3/7, 1/7;
    // output 1 centres at 3.0 and weighs pixels 1, 2, 3 by 1/7, 3/7, 3/7.
    const uchar row[4] = {0, 100, 200, 40};
    cv::Mat wide(1, 4, CV_8UC3), tall(4, 1, CV_8UC3);
    for (int i = 0; i < 4; ++i) {
        wide.at<cv::Vec3b>(0, i) = cv::Vec3b(row[i], row[i], 255 - row[i]);
        tall.at<cv::Vec3b>(i, 0) = cv::Vec3b(row[i], row[i], 255 - row[i]);
    }
    cv::Mat narrow = lt::resize_to(wide, 1, 2);
    CHECK(narrow.at<cv::Vec3b>(0, 0)[0] == 71);   // 500 / 7 = 71.4
    CHECK(narrow.at<cv::Vec3b>(0, 1)[0] == 117);  // 820 / 7 = 117.1
    CHECK(narrow.at<cv::Vec3b>(0, 0)[2] == 184);  // (255 * 7 - 500) / 7 = 183.6
    cv::Mat short_one = lt::resize_to(tall, 2, 1);
    CHECK(short_one.at<cv::Vec3b>(0, 0)[1] == 71);
    CHECK(short_one.at<cv::Vec3b>(1, 0)[1] == 117);

    // Growing 2 -> 4: plain bilinear, edge pixels replicated: 0, 25, 75, 100.
    cv::Mat pair(1, 2, CV_8UC3);
    pair.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 0, 0);
    pair.at<cv::Vec3b>(0, 1) = cv::Vec3b(100, 100, 100);
    cv::Mat grown = lt::resize_to(pair, 1, 4);
    CHECK(grown.at<cv::Vec3b>(0, 0)[0] == 0);
    CHECK(grown.at<cv::Vec3b>(0, 1)[0] == 25);
    CHECK(grown.at<cv::Vec3b>(0, 2)[0] == 75);
    CHECK(grown.at<cv::Vec3b>(0, 3)[0] == 100);

    // Both axes: separable, so a 2x2 checker grows to the outer product.
    cv::Mat square(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
    square.at<cv::Vec3b>(1, 1) = cv::Vec3b(160, 160, 160);
    cv::Mat big = lt::resize_to(square, 4, 4);
    CHECK(big.at<cv::Vec3b>(3, 3)[0] == 160);
    CHECK(big.at<cv::Vec3b>(1, 1)[0] == 10);   // 160 * 1/4 * 1/4
    CHECK(big.at<cv::Vec3b>(2, 3)[0] == 120);  // 160 * 3/4 * 1
}

TEST_CASE("contrastive views: two independent augmentations per image; grey-scale makes the channels equal") {
    cv::Mat image = coordinate_image(28, 28);
    lt::ImageTransform views = lt::contrastive_transform("small", 28);
    CHECK(views.views == 2);
    CHECK(views.crop_scale_min == 0.2);
    CHECK(views.jitter.brightness == 0.4);
    CHECK(views.floats_per_image() == 2 * 3 * 28 * 28);
    std::vector<float> out(views.floats_per_image()), again(out.size());
    lt::Rng a(3), b(3);
    views.apply(image, a, out.data());
    views.apply(image, b, again.data());
    CHECK(out == again);  // deterministic given the seed
    const std::size_t view = views.floats_per_view();
    CHECK_FALSE(std::equal(out.begin(), out.begin() + view, out.begin() + view));  // the views differ

    // Grey-scale always, nothing else: each channel is the torchvision luma,
    // normalised with its channel's mean and std.
    lt::ImageTransform grey = lt::image_transform("small", false, 28);
    grey.grayscale_probability = 1.0;
    std::vector<float> plain(grey.floats_per_image());
    lt::Rng rng(0);
    grey.apply(image, rng, plain.data());
    const float luma = lt::grayscale(3 / 255.0f, 5 / 255.0f, 8 / 255.0f);  // pixel (y=3, x=5) = (3, 5, 8)
    const std::size_t plane = 28 * 28, at = 3 * 28 + 5;
    CHECK(plain[at] == doctest::Approx((luma - 0.485f) / 0.229f));
    CHECK(plain[plane + at] == doctest::Approx((luma - 0.456f) / 0.224f));
    CHECK(plain[2 * plane + at] == doctest::Approx((luma - 0.406f) / 0.225f));
    CHECK(lt::contrastive_transform("imagenet").size == 224);
    CHECK_THROWS_AS(lt::contrastive_transform("cifar"), lt::UsageError);
}

// Run by tests/torchvision/check_preprocessing.py, which writes images with
// PIL and torchvision's eval tensors of them.
TEST_CASE("eval transform equals torchvision's" * doctest::skip()) {
    const char* cases_path = std::getenv("LT_TORCHVISION_PREPROCESSING");
    REQUIRE_MESSAGE(cases_path, "run tests/torchvision/check_preprocessing.py");
    std::ifstream cases(cases_path);
    std::string image_path, preset, reference_path;
    int size = 0, count = 0;
    double worst = 0;
    while (cases >> image_path >> preset >> size >> reference_path) {
        INFO(image_path << " " << preset << " " << size);
        const lt::ImageTransform transform = lt::image_transform(preset, false, size);
        std::vector<float> ours(transform.floats_per_image()), theirs(ours.size());
        lt::Rng rng = lt::make_rng(0, {0});
        transform.apply(lt::read_image_rgb(image_path), rng, ours.data());
        std::ifstream reference(reference_path, std::ios::binary);
        reference.read(reinterpret_cast<char*>(theirs.data()), static_cast<std::streamsize>(theirs.size() * sizeof(float)));
        REQUIRE(reference.gcount() == static_cast<std::streamsize>(theirs.size() * sizeof(float)));
        double difference = 0;
        for (std::size_t i = 0; i < ours.size(); ++i)
            difference = std::max(difference, static_cast<double>(std::abs(ours[i] - theirs[i])));
        CHECK(difference <= 1e-6);
        worst = std::max(worst, difference);
        ++count;
    }
    CHECK(count > 0);
    std::printf("eval transform: %d images x settings, max abs difference from torchvision %.3g\n", count, worst);
}
