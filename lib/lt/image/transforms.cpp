#include "lt/image/transforms.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lt {

namespace {

// Python's int(round(x)): round half to even (the default FP rounding mode).
int python_round(double x) { return static_cast<int>(std::nearbyint(x)); }

// One axis of torchvision's center crop, in the image's coordinates.
int center_offset(int extent, int crop_extent) {
    if (crop_extent > extent) return -((crop_extent - extent) / 2);  // padded: left pad = diff // 2
    return python_round((extent - crop_extent) / 2.0);
}

// ---- PIL's bilinear resampling (Pillow, libImaging/Resample.c) ----------
// Rewritten so that resized pixels equal those of torchvision's PIL-based
// transforms: a triangle filter whose support widens with the shrink factor
// (antialiasing), coefficients in 22-bit fixed point, a horizontal pass over
// the rows the vertical pass needs, then the vertical pass, each rounding to
// 8 bits.

constexpr int kPrecisionBits = 32 - 8 - 2;

struct ResampleAxis {
    int kernel_size = 0;
    std::vector<int> first, count;      // source range of each output pixel
    std::vector<std::int32_t> weights;  // kernel_size per output pixel, fixed point
};

// Output pixels [out_first, out_first + out_count) of out_size; each depends
// only on its own position, so a window of the output costs only its size.
ResampleAxis resample_axis(int in_size, int out_size, int out_first, int out_count) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = 1.0 * filter_scale;  // bilinear: support 1
    ResampleAxis axis;
    axis.kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
    axis.first.resize(out_count);
    axis.count.resize(out_count);
    axis.weights.assign(static_cast<std::size_t>(out_count) * axis.kernel_size, 0);
    std::vector<double> kernel(axis.kernel_size);
    for (int slot = 0; slot < out_count; ++slot) {
        const int out = out_first + slot;
        const double center = (out + 0.5) * scale;
        int low = std::max(static_cast<int>(center - support + 0.5), 0);
        int high = std::min(static_cast<int>(center + support + 0.5), in_size);
        int count = high - low;
        double total = 0;
        for (int i = 0; i < count; ++i) {
            double x = std::abs((i + low - center + 0.5) / filter_scale);
            kernel[i] = x < 1.0 ? 1.0 - x : 0.0;
            total += kernel[i];
        }
        for (int i = 0; i < count; ++i) {
            double weight = total != 0.0 ? kernel[i] / total : kernel[i];
            axis.weights[static_cast<std::size_t>(slot) * axis.kernel_size + i] = static_cast<std::int32_t>(
                weight < 0 ? -0.5 + weight * (1 << kPrecisionBits) : 0.5 + weight * (1 << kPrecisionBits));
        }
        axis.first[slot] = low;
        axis.count[slot] = count;
    }
    return axis;
}

inline std::uint8_t clip8(std::int32_t value) {
    if (value >= (1 << kPrecisionBits << 8)) return 255;
    if (value <= 0) return 0;
    return static_cast<std::uint8_t>(value >> kPrecisionBits);
}

// The window of the image resized to height x width (window inside
// 0..width x 0..height): the pixels of resizing it all and cropping.
cv::Mat pil_bilinear_resize(const cv::Mat& image, int height, int width, const cv::Rect& window) {
    const bool horizontal = width != image.cols, vertical = height != image.rows;
    const ResampleAxis across = resample_axis(image.cols, width, window.x, window.width);
    const ResampleAxis down = resample_axis(image.rows, height, window.y, window.height);
    // The horizontal pass covers only the source rows the vertical one reads.
    const int row_first = vertical ? down.first.front() : window.y;
    const int row_last = vertical ? down.first.back() + down.count.back() : window.y + window.height;
    cv::Mat source;
    if (horizontal) {
        source.create(row_last - row_first, window.width, CV_8UC3);
        for (int y = 0; y < source.rows; ++y) {
            const auto* in = image.ptr<cv::Vec3b>(y + row_first);
            auto* out = source.ptr<cv::Vec3b>(y);
            for (int x = 0; x < window.width; ++x) {
                const std::int32_t* weight = &across.weights[static_cast<std::size_t>(x) * across.kernel_size];
                std::int32_t sums[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
                for (int i = 0; i < across.count[x]; ++i)
                    for (int c = 0; c < 3; ++c) sums[c] += in[across.first[x] + i][c] * weight[i];
                out[x] = cv::Vec3b(clip8(sums[0]), clip8(sums[1]), clip8(sums[2]));
            }
        }
    } else {
        source = image(cv::Rect(window.x, row_first, window.width, row_last - row_first));
    }
    if (!vertical) return source;
    cv::Mat result(window.height, window.width, CV_8UC3);
    std::vector<std::int32_t> sums(static_cast<std::size_t>(window.width) * 3);
    for (int y = 0; y < window.height; ++y) {
        const std::int32_t* weight = &down.weights[static_cast<std::size_t>(y) * down.kernel_size];
        std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
        // Row by row, so the source is read in memory order.
        for (int i = 0; i < down.count[y]; ++i) {
            const auto* in = source.ptr<std::uint8_t>(down.first[y] + i - row_first);
            for (std::size_t k = 0; k < sums.size(); ++k) sums[k] += in[k] * weight[i];
        }
        auto* out = result.ptr<std::uint8_t>(y);
        for (std::size_t k = 0; k < sums.size(); ++k) out[k] = clip8(sums[k]);
    }
    return result;
}

void check_rgb8(const cv::Mat& image, const char* what) {
    if (image.type() != CV_8UC3 || image.empty())
        throw Error(fmt::format("{}: expected a non-empty 8-bit RGB image", what));
}

}  // namespace

CropBox random_resized_crop_box(int height, int width, Rng& rng, double scale_min, double scale_max,
                                double ratio_min, double ratio_max) {
    const double area = static_cast<double>(height) * width;
    const double log_ratio_min = std::log(ratio_min), log_ratio_max = std::log(ratio_max);
    for (int attempt = 0; attempt < 10; ++attempt) {
        double target_area = area * uniform_real(rng, scale_min, scale_max);
        double aspect_ratio = std::exp(uniform_real(rng, log_ratio_min, log_ratio_max));
        int crop_width = python_round(std::sqrt(target_area * aspect_ratio));
        int crop_height = python_round(std::sqrt(target_area / aspect_ratio));
        if (crop_width > 0 && crop_width <= width && crop_height > 0 && crop_height <= height) {
            int top = static_cast<int>(uniform_int(rng, 0, height - crop_height));
            int left = static_cast<int>(uniform_int(rng, 0, width - crop_width));
            return {top, left, crop_height, crop_width};
        }
    }
    // Fallback: the whole image, narrowed to the ratio range, centred.
    double in_ratio = static_cast<double>(width) / height;
    int crop_width = width, crop_height = height;
    if (in_ratio < ratio_min)
        crop_height = python_round(crop_width / ratio_min);
    else if (in_ratio > ratio_max)
        crop_width = python_round(crop_height * ratio_max);
    return {(height - crop_height) / 2, (width - crop_width) / 2, crop_height, crop_width};
}

CropBox center_crop_box(int height, int width, int crop_height, int crop_width) {
    return {center_offset(height, crop_height), center_offset(width, crop_width), crop_height, crop_width};
}

cv::Mat crop(const cv::Mat& image, const CropBox& box) {
    if (box.height <= 0 || box.width <= 0)
        throw Error(fmt::format("crop of {}x{} pixels is empty", box.height, box.width));
    cv::Rect wanted(box.left, box.top, box.width, box.height);
    cv::Rect inside = wanted & cv::Rect(0, 0, image.cols, image.rows);
    if (inside == wanted) return image(wanted);  // a view: no copy needed
    cv::Mat result = cv::Mat::zeros(box.height, box.width, image.type());
    if (inside.area() > 0)
        image(inside).copyTo(result(cv::Rect(inside.x - box.left, inside.y - box.top, inside.width, inside.height)));
    return result;
}

cv::Mat resize_to(const cv::Mat& image, int height, int width) {
    if (image.rows == height && image.cols == width) return image;
    if (image.type() == CV_8UC3) return pil_bilinear_resize(image, height, width, cv::Rect(0, 0, width, height));
    cv::Mat resized;
    bool shrinking = height < image.rows && width < image.cols;
    cv::resize(image, resized, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    return resized;
}

namespace {

// torchvision Resize(size)'s output: the shorter side size, the longer one
// int(size * long / short).
cv::Size shorter_side_size(const cv::Mat& image, int size) {
    const int height = image.rows, width = image.cols;
    const int shorter = std::min(height, width), longer = std::max(height, width);
    const double new_longer = std::floor(static_cast<double>(size) * longer / shorter);
    if (new_longer > std::numeric_limits<int>::max())
        throw Error(fmt::format("its shorter side cannot be resized to {} (the longer side would have more than {} "
                                "pixels)",
                                size, std::numeric_limits<int>::max()));
    return height <= width ? cv::Size(static_cast<int>(new_longer), size) : cv::Size(size, static_cast<int>(new_longer));
}

}  // namespace

cv::Mat resize_shorter_side(const cv::Mat& image, int size) {
    const cv::Size resized = shorter_side_size(image, size);
    return resize_to(image, resized.height, resized.width);
}

cv::Mat center_crop(const cv::Mat& image, int size) {
    return crop(image, center_crop_box(image.rows, image.cols, size, size));
}

cv::Mat resize_shorter_side_and_center_crop(const cv::Mat& image, int resize_side, int size) {
    const cv::Size resized = shorter_side_size(image, resize_side);
    const CropBox box = center_crop_box(resized.height, resized.width, size, size);
    const cv::Rect window(box.left, box.top, box.width, box.height);
    if (image.type() != CV_8UC3 || (window & cv::Rect(0, 0, resized.width, resized.height)) != window)
        return center_crop(resize_shorter_side(image, resize_side), size);  // a padded crop
    if (resized == image.size()) return image(window);
    return pil_bilinear_resize(image, resized.height, resized.width, window);
}

cv::Mat random_resized_crop(const cv::Mat& image, int size, Rng& rng, double scale_min) {
    return resize_to(crop(image, random_resized_crop_box(image.rows, image.cols, rng, scale_min)), size, size);
}

cv::Mat pad_and_random_crop(const cv::Mat& image, int size, int padding, Rng& rng) {
    int top = static_cast<int>(uniform_int(rng, 0, image.rows + 2 * padding - size)) - padding;
    int left = static_cast<int>(uniform_int(rng, 0, image.cols + 2 * padding - size)) - padding;
    return crop(image, {top, left, size, size});
}

cv::Mat horizontal_flip(const cv::Mat& image) {
    cv::Mat flipped;
    cv::flip(image, flipped, 1);
    return flipped;
}

float grayscale(float red, float green, float blue) { return 0.2989f * red + 0.587f * green + 0.114f * blue; }

void ColorJitter::apply(cv::Mat& image, Rng& rng) const {
    if (image.type() != CV_32FC3) throw Error("colour jitter needs a float RGB image");
    if (!enabled()) return;
    auto factor = [&](double strength) { return uniform_real(rng, std::max(0.0, 1.0 - strength), 1.0 + strength); };
    // As torchvision: the order first, then the three factors.
    std::vector<std::size_t> order = random_permutation(3, rng);
    const float factors[3] = {static_cast<float>(factor(brightness)), static_cast<float>(factor(contrast)),
                              static_cast<float>(factor(saturation))};
    const bool active[3] = {brightness > 0, contrast > 0, saturation > 0};

    auto blend = [](float value, float other, float ratio) {
        return std::clamp(ratio * value + (1.0f - ratio) * other, 0.0f, 1.0f);
    };
    if (!image.isContinuous()) image = image.clone();  // a view into a larger image
    const std::size_t pixels = image.total();
    auto* data = image.ptr<cv::Vec3f>(0);
    for (std::size_t step : order) {
        if (!active[step]) continue;
        const float ratio = factors[step];
        if (step == 0) {  // brightness: blend with black
            for (std::size_t i = 0; i < pixels; ++i)
                for (int c = 0; c < 3; ++c) data[i][c] = blend(data[i][c], 0.0f, ratio);
        } else if (step == 1) {  // contrast: blend with the mean grey level
            double sum = 0;
            for (std::size_t i = 0; i < pixels; ++i) sum += grayscale(data[i][0], data[i][1], data[i][2]);
            const float mean = static_cast<float>(sum / static_cast<double>(pixels));
            for (std::size_t i = 0; i < pixels; ++i)
                for (int c = 0; c < 3; ++c) data[i][c] = blend(data[i][c], mean, ratio);
        } else {  // saturation: blend with each pixel's grey
            for (std::size_t i = 0; i < pixels; ++i) {
                const float grey = grayscale(data[i][0], data[i][1], data[i][2]);
                for (int c = 0; c < 3; ++c) data[i][c] = blend(data[i][c], grey, ratio);
            }
        }
    }
}

void to_chw_normalized(const cv::Mat& image, const ChannelValues& mean, const ChannelValues& std, float* out) {
    const bool bytes = image.type() == CV_8UC3;
    if (!bytes && image.type() != CV_32FC3) throw Error("normalisation needs an 8-bit or float RGB image");
    const std::size_t plane = image.total();
    float* planes[3] = {out, out + plane, out + 2 * plane};
    // ToTensor divides by 255 in float; Normalize subtracts, then divides:
    // the same float operations give the same bits.
    for (int y = 0; y < image.rows; ++y) {
        const std::size_t row = static_cast<std::size_t>(y) * image.cols;
        if (bytes) {
            const auto* pixel = image.ptr<cv::Vec3b>(y);
            for (int x = 0; x < image.cols; ++x)
                for (int c = 0; c < 3; ++c)
                    planes[c][row + x] = (static_cast<float>(pixel[x][c]) / 255.0f - mean[c]) / std[c];
        } else {
            const auto* pixel = image.ptr<cv::Vec3f>(y);
            for (int x = 0; x < image.cols; ++x)
                for (int c = 0; c < 3; ++c) planes[c][row + x] = (pixel[x][c] - mean[c]) / std[c];
        }
    }
}

void ImageTransform::apply(const cv::Mat& rgb, Rng& rng, float* out) const {
    check_rgb8(rgb, "image transform");
    for (int view = 0; view < views; ++view) apply_view(rgb, rng, out + view * floats_per_view());
}

void ImageTransform::apply_view(const cv::Mat& rgb, Rng& rng, float* out) const {
    cv::Mat image;
    switch (geometry) {
        case Geometry::random_resized_crop:
            image = random_resized_crop(rgb, size, rng, crop_scale_min);
            break;
        case Geometry::pad_and_crop:
            image = pad_and_random_crop(resize_shorter_side_and_center_crop(rgb, size, size), size, padding, rng);
            break;
        case Geometry::resize_center_crop:
            image = resize_shorter_side_and_center_crop(rgb, resize_side, size);
            break;
    }
    // torchvision flips with probability 0.5 by drawing a uniform < 0.5.
    if (flip && uniform_unit(rng) < 0.5) image = horizontal_flip(image);
    // RandomApply and RandomGrayscale draw only when they are random, so the
    // presets without them keep torchvision's sequence of draws.
    const bool jitter_now = jitter.enabled() && (jitter_probability >= 1 || uniform_unit(rng) < jitter_probability);
    const bool grey_now = grayscale_probability > 0 && uniform_unit(rng) < grayscale_probability;
    if (jitter_now || grey_now) {
        cv::Mat unit;
        image.convertTo(unit, CV_32FC3, 1.0 / 255.0);
        if (jitter_now) jitter.apply(unit, rng);
        if (grey_now) {
            if (!unit.isContinuous()) unit = unit.clone();
            auto* data = unit.ptr<cv::Vec3f>(0);
            for (std::size_t i = 0; i < unit.total(); ++i) {
                const float grey = grayscale(data[i][0], data[i][1], data[i][2]);
                data[i] = cv::Vec3f(grey, grey, grey);
            }
        }
        image = unit;
    }
    to_chw_normalized(image, mean, std, out);
}

ImageTransform image_transform(const std::string& preset, bool train, int size) {
    if (size < 0) throw UsageError(fmt::format("image size {} is negative", size));
    ImageTransform transform;
    if (preset == "imagenet") {
        transform.size = size > 0 ? size : 224;
        if (train) {
            transform.geometry = ImageTransform::Geometry::random_resized_crop;
            transform.flip = true;
            transform.jitter = {0.4, 0.4, 0.4};
        } else {
            transform.geometry = ImageTransform::Geometry::resize_center_crop;
            transform.resize_side = transform.size * 256 / 224;
        }
    } else if (preset == "small") {
        transform.size = size > 0 ? size : 32;
        if (train) {
            transform.geometry = ImageTransform::Geometry::pad_and_crop;
            transform.padding = 4;
            transform.flip = true;
        } else {
            transform.geometry = ImageTransform::Geometry::resize_center_crop;
            transform.resize_side = transform.size;
        }
    } else {
        throw UsageError(fmt::format("unknown transform preset '{}'", preset), "use imagenet or small");
    }
    return transform;
}

ImageTransform contrastive_transform(const std::string& preset, int size) {
    ImageTransform transform = image_transform(preset, true, size);
    const bool small = preset == "small";
    transform.geometry = ImageTransform::Geometry::random_resized_crop;
    transform.crop_scale_min = small ? 0.2 : 0.08;
    transform.flip = true;
    const double strength = small ? 0.4 : 0.8;
    transform.jitter = {strength, strength, strength};
    transform.jitter_probability = 0.8;
    transform.grayscale_probability = 0.2;
    transform.views = 2;
    return transform;
}

}  // namespace lt
