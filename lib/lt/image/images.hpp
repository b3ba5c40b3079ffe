// Image decoding for the data side: list entries to 8-bit RGB cv::Mat.
// Decoding follows what torchvision's PIL loader gives: grey and palette
// images become 3 channels, alpha is dropped, EXIF orientation is ignored.
//
// JPEG and PNG files are decoded with libjpeg and libpng directly, with
// handlers that turn every sign of damage into an error: a truncated or
// corrupt file never yields an image with made-up pixels (libjpeg's default
// is to fill the missing part with grey and print a warning). Warnings that
// concern only metadata lt ignores (colour profiles, text chunks, padding
// after the last scan) do not fail a file. Other formats (BMP, PPM, TIFF,
// WebP, ...) go through OpenCV. The pixels equal both PIL's and OpenCV's
// imdecode (in RGB order) for every file they accept, but for two kinds:
// CMYK JPEGs become RGB with Pillow's arithmetic (OpenCV's is a level or
// two darker on most pixels), and 16-bit grey PNGs keep their high byte, as
// OpenCV and every other 16-bit PNG do, where PIL clips their values to 255
// (nearly white images).
#pragma once

#include "lt/io/lists.hpp"

#include <opencv2/core.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace lt {

// Decodes encoded bytes (PNG, JPEG, ...) to an 8-bit RGB image (CV_8UC3).
// Throws lt::Error "cannot decode image '<name>': <reason>" when they are not
// a sound image.
cv::Mat decode_image_rgb(std::string_view bytes, const std::string& name);

// Reads and decodes a file. Throws lt::Error naming the file, and saying
// whether it is missing or undecodable.
cv::Mat read_image_rgb(const std::string& path);

// The same without throwing, for reports that list many files: "" when the
// file decodes (into rgb), otherwise why not, without the file name:
// "cannot read: No such file or directory", "cannot decode: broken JPEG: ...".
std::string try_read_image_rgb(const std::string& path, cv::Mat& rgb);

// A list file with the folder its paths are relative to.
struct ImageDataset {
    std::string root;       // "" = paths are used as they are
    std::string list_name;  // where entries come from, for messages
    std::vector<ListEntry> entries;

    std::size_t size() const { return entries.size(); }
    std::vector<std::int64_t> labels() const;
    std::string image_path(std::size_t index) const;
    // Decodes entry index; an error names the file and the list line.
    cv::Mat load(std::size_t index) const;
};

// A UsageError when an output that already exists is, by device and inode,
// the image of one of rows [first, end): it would replace that image (and a
// later epoch would read the model as one). One stat per image, and only
// when one of the outputs exists.
void refuse_outputs_among_images(const ImageDataset& dataset, const std::vector<std::string>& outputs,
                                 std::size_t first, std::size_t end);

// Reads the list (see read_list) and keeps the root; no image is opened yet.
// Training needs a label on every line (the default); extraction and checks
// also take lines with a path only (label -1).
ImageDataset open_image_dataset(const std::string& list_path, const std::string& root,
                                Labels labels = Labels::required);

}  // namespace lt
