#include "lt/io/checksum.hpp"

#include <cstring>

namespace lt::h5 {

namespace {

constexpr std::uint32_t rotate(std::uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void mix(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c) {
    a -= c; a ^= rotate(c, 4);  c += b;
    b -= a; b ^= rotate(a, 6);  a += c;
    c -= b; c ^= rotate(b, 8);  b += a;
    a -= c; a ^= rotate(c, 16); c += b;
    b -= a; b ^= rotate(a, 19); a += c;
    c -= b; c ^= rotate(b, 4);  b += a;
}

void final_mix(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c) {
    c ^= b; c -= rotate(b, 14);
    a ^= c; a -= rotate(c, 11);
    b ^= a; b -= rotate(a, 25);
    c ^= b; c -= rotate(b, 16);
    a ^= c; a -= rotate(c, 4);
    b ^= a; b -= rotate(a, 14);
    c ^= b; c -= rotate(b, 24);
}

// Little-endian words whatever the host, as HDF5 reads them.
std::uint32_t word(const unsigned char* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

}  // namespace

std::uint32_t lookup3(const void* data, std::size_t size, std::uint32_t initval) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + static_cast<std::uint32_t>(size) + initval;
    while (size > 12) {
        a += word(p);
        b += word(p + 4);
        c += word(p + 8);
        mix(a, b, c);
        p += 12;
        size -= 12;
    }
    if (size == 0) return c;
    unsigned char tail[12] = {};
    std::memcpy(tail, p, size);
    a += word(tail);
    b += word(tail + 4);
    c += word(tail + 8);
    final_mix(a, b, c);
    return c;
}

namespace {

// Where the checksum of a version 2 or 3 superblock lies (after the
// signature, version, sizes, flags and four addresses), or 0 for an image
// without one.
std::size_t superblock_checksum_at(const unsigned char* image, std::size_t size) {
    static const unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size < 12 || std::memcmp(image, kSignature, sizeof kSignature) != 0) return 0;
    const int version = image[8];
    const int offset_size = image[9];
    if (version < 2 || (offset_size != 4 && offset_size != 8)) return 0;
    const std::size_t at = 12 + 4 * static_cast<std::size_t>(offset_size);
    return size < at + 4 ? 0 : at;
}

}  // namespace

bool superblock_checksum_matches(const unsigned char* image, std::size_t size) {
    const std::size_t at = superblock_checksum_at(image, size);
    return at == 0 || word(image + at) == lookup3(image, at);
}

bool repair_superblock_checksum(unsigned char* image, std::size_t size) {
    if (superblock_checksum_matches(image, size)) return false;
    const std::size_t at = superblock_checksum_at(image, size);
    const std::uint32_t sum = lookup3(image, at);
    for (int i = 0; i < 4; ++i) image[at + i] = static_cast<unsigned char>(sum >> (8 * i));
    return true;
}

}  // namespace lt::h5
