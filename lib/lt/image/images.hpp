// Image decoding for the data side: list entries to 8-bit RGB cv::Mat.
// Decoding follows what torchvision's PIL loader gives: grey and palette
// images become 3 channels, alpha is dropped, EXIF orientation is ignored.
#pragma once

#include "lt/io/lists.hpp"

#include <opencv2/core.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace lt {

// Decodes encoded bytes (PNG, JPEG, ...) to an 8-bit RGB image (CV_8UC3).
// Throws lt::Error "cannot decode image '<name>'" when they are not an image.
cv::Mat decode_image_rgb(std::string_view bytes, const std::string& name);

// Reads and decodes a file. Throws lt::Error naming the file, and saying
// whether it is missing or undecodable.
cv::Mat read_image_rgb(const std::string& path);

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

// Reads the list (see read_list) and keeps the root; no image is opened yet.
ImageDataset open_image_dataset(const std::string& list_path, const std::string& root);

}  // namespace lt
