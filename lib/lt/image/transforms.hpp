// Image transforms for training and evaluation, on 8-bit RGB cv::Mat, with
// torchvision's semantics (RandomResizedCrop, RandomCrop with padding,
// RandomHorizontalFlip, ColorJitter, Resize + CenterCrop, ToTensor +
// Normalize). Randomness comes only from the Rng passed in, so a transform is
// deterministic given its seed. LibTorch-free: the result is a plain CHW
// float buffer.
#pragma once

#include "lt/base/random.hpp"

#include <opencv2/core.hpp>

#include <array>
#include <string>

namespace lt {

// A crop in pixels; top/left may be negative and the box may extend past the
// image, the outside being zero (as torchvision pads).
struct CropBox {
    int top = 0, left = 0, height = 0, width = 0;
};

// torchvision RandomResizedCrop.get_params: 10 attempts at an area fraction in
// [scale_min, scale_max] and a log-uniform aspect ratio in [ratio_min,
// ratio_max], then a center crop clamped to the ratio range.
CropBox random_resized_crop_box(int height, int width, Rng& rng, double scale_min = 0.08,
                                double scale_max = 1.0, double ratio_min = 3.0 / 4.0,
                                double ratio_max = 4.0 / 3.0);

// torchvision CenterCrop: offset round((size - crop) / 2) with Python's
// round-half-to-even; a crop larger than the image is centred with zero padding.
CropBox center_crop_box(int height, int width, int crop_height, int crop_width);

// The pixels of box (zero outside the image).
cv::Mat crop(const cv::Mat& image, const CropBox& box);

// Resizes to height x width with PIL's bilinear filter (antialiased when
// shrinking), so 8-bit RGB images get the same pixels as torchvision's
// PIL-based Resize; other types use OpenCV. Returns the image itself,
// unresampled, when it already has that size.
cv::Mat resize_to(const cv::Mat& image, int height, int width);

// torchvision Resize(size) with an int: the shorter side becomes size, the
// longer one int(size * long / short).
cv::Mat resize_shorter_side(const cv::Mat& image, int size);

cv::Mat center_crop(const cv::Mat& image, int size);
// center_crop(resize_shorter_side(image, resize_side), size), computing only
// the pixels the crop keeps: the same pixels, without the whole resized
// image (for a long, thin strip that image may not fit in memory).
cv::Mat resize_shorter_side_and_center_crop(const cv::Mat& image, int resize_side, int size);
cv::Mat random_resized_crop(const cv::Mat& image, int size, Rng& rng, double scale_min = 0.08);
// CIFAR augmentation: zero-pad by padding on every side, then a random
// size x size crop.
cv::Mat pad_and_random_crop(const cv::Mat& image, int size, int padding, Rng& rng);
cv::Mat horizontal_flip(const cv::Mat& image);

// torchvision ColorJitter without hue, as its tensor implementation does it,
// on a float RGB image in [0, 1] (CV_32FC3), in place: brightness, contrast
// and saturation factors drawn uniformly from [max(0, 1 - x), 1 + x],
// applied in a random order, each step clamped to [0, 1] (no rounding to
// 8 bits between steps, unlike the PIL path).
struct ColorJitter {
    double brightness = 0, contrast = 0, saturation = 0;
    bool enabled() const { return brightness > 0 || contrast > 0 || saturation > 0; }
    void apply(cv::Mat& image, Rng& rng) const;
};

// Luma weights of torchvision's rgb_to_grayscale.
float grayscale(float red, float green, float blue);

using ChannelValues = std::array<float, 3>;
inline constexpr ChannelValues kImageNetMean = {0.485f, 0.456f, 0.406f};
inline constexpr ChannelValues kImageNetStd = {0.229f, 0.224f, 0.225f};

// ToTensor + Normalize: writes 3 x H x W floats to out, (x - mean) / std per
// channel with x in [0, 1]. image is CV_8UC3 (divided by 255) or CV_32FC3.
void to_chw_normalized(const cv::Mat& image, const ChannelValues& mean, const ChannelValues& std, float* out);

// A whole train or eval pipeline. Build it with image_transform().
struct ImageTransform {
    enum class Geometry {
        random_resized_crop,  // RRC to size
        pad_and_crop,         // resize/center-crop to size, then pad and random crop
        resize_center_crop,   // shorter side to resize_side, center crop to size
    };
    Geometry geometry = Geometry::resize_center_crop;
    int size = 224;          // output height = width
    double crop_scale_min = 0.08;  // random_resized_crop: smallest area fraction
    int resize_side = 256;   // resize_center_crop only
    int padding = 4;         // pad_and_crop only
    bool flip = false;       // random horizontal flip, p = 0.5
    ColorJitter jitter;
    double jitter_probability = 1;     // torchvision RandomApply around the jitter
    double grayscale_probability = 0;  // RandomGrayscale, after the jitter
    // Independently augmented copies of each image, one after the other
    // (SimCLR's two views); each is 3 x size x size floats.
    int views = 1;
    ChannelValues mean = kImageNetMean, std = kImageNetStd;

    std::size_t floats_per_view() const { return 3 * static_cast<std::size_t>(size) * size; }
    std::size_t floats_per_image() const { return static_cast<std::size_t>(views) * floats_per_view(); }
    // rgb: CV_8UC3; out: floats_per_image() floats, CHW per view.
    void apply(const cv::Mat& rgb, Rng& rng, float* out) const;

private:
    void apply_view(const cv::Mat& rgb, Rng& rng, float* out) const;
};

// Presets:
//   "imagenet" train: RandomResizedCrop(size) + flip + ColorJitter(0.4, 0.4, 0.4)
//              eval:  Resize(floor(size * 256 / 224)) + CenterCrop(size); size 0 = 224
//   "small"    train: (resize to size) + pad 4 and random crop + flip
//              eval:  resize shorter side to size + CenterCrop(size), i.e. nothing for
//                     images already that size; size 0 = 32
// Both normalise with the ImageNet mean and std. Throws lt::UsageError for an
// unknown name or a size < 1.
ImageTransform image_transform(const std::string& preset, bool train, int size = 0);

// SimCLR's augmentation (Chen et al. 2020), two views per image: random
// resized crop, flip, colour jitter with probability 0.8, grey-scale with
// probability 0.2.
//   "imagenet": crop area 0.08-1, jitter (0.8, 0.8, 0.8) (no hue, no blur); size 0 = 224
//   "small":    crop area 0.2-1 (a 28-px image keeps its object), jitter
//               (0.4, 0.4, 0.4), as SimCLR's CIFAR setting; size 0 = 32
ImageTransform contrastive_transform(const std::string& preset, int size = 0);

}  // namespace lt
