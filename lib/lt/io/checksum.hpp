#pragma once
// Bob Jenkins' lookup3 hash ("hashlittle"), the checksum of HDF5's metadata
// (superblock v2 and later, v2 object headers, ...).
#include <cstddef>
#include <cstdint>

namespace lt::h5 {

std::uint32_t lookup3(const void* data, std::size_t size, std::uint32_t initval = 0);

// Whether an HDF5 file image's superblock checksum matches its content (or
// the superblock, of version 0 or 1, has none).
bool superblock_checksum_matches(const unsigned char* image, std::size_t size);

// A file image taken from an open HDF5 1.10 file (H5Fget_file_image) holds a
// version 2 or 3 superblock whose status flags were cleared after its
// checksum was computed; the image then fails to open. Recomputes the
// checksum where it does not match. Returns whether the image was changed.
bool repair_superblock_checksum(unsigned char* image, std::size_t size);

}  // namespace lt::h5
