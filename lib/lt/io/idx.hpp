// IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic
// (0, 0, element type, number of dimensions), the dimensions as big-endian
// 32-bit integers, then the elements in row-major order. Files may be
// gzip-compressed (as Debian ships them) or not. Only unsigned-byte elements
// (type 0x08), the type of every MNIST-style image and label file, are read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lt {

struct IdxArray {
    std::vector<std::size_t> shape;  // e.g. {60000, 28, 28}
    std::vector<std::uint8_t> data;  // row-major, size = product of shape
};

// Reads an IDX file, gzip-compressed or not. Throws lt::Error naming the file
// for a missing file, a bad magic, an unsupported element type, a corrupt
// or truncated gzip stream, and a size that does not match the dimensions.
IdxArray read_idx(const std::string& path);

// Parses uncompressed IDX bytes; name is used in messages.
IdxArray parse_idx(std::string_view bytes, const std::string& name);

}  // namespace lt
