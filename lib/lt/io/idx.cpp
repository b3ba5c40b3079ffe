#include "lt/io/idx.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

namespace lt {

namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;
constexpr std::size_t kMaxDimensions = 16;

struct Header {
    std::vector<std::size_t> shape;
    std::size_t header_bytes = 0;
    std::size_t element_count = 0;
};

// Validates the magic and dimensions; needs only the first bytes of the file.
// Returns false when more bytes are needed to see the whole header.
bool parse_header(std::string_view bytes, const std::string& name, Header& header) {
    if (bytes.size() < 4) return false;
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
    if (byte(0) != 0 || byte(1) != 0)
        throw Error(fmt::format("'{}' is not an IDX file (its first bytes are {:02x} {:02x}, not 00 00)", name,
                                byte(0), byte(1)));
    std::uint8_t type = byte(2), dimensions = byte(3);
    if (type != kUnsignedByte)
        throw Error(fmt::format("'{}': IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                                name, type));
    if (dimensions == 0 || dimensions > kMaxDimensions)
        throw Error(fmt::format("'{}': IDX header claims {} dimensions", name, dimensions));
    header.header_bytes = 4 + 4 * static_cast<std::size_t>(dimensions);
    if (bytes.size() < header.header_bytes) return false;
    header.shape.clear();
    header.element_count = 1;
    for (std::size_t d = 0; d < dimensions; ++d) {
        std::size_t at = 4 + 4 * d;
        std::size_t extent = (std::size_t{byte(at)} << 24) | (std::size_t{byte(at + 1)} << 16) |
                             (std::size_t{byte(at + 2)} << 8) | std::size_t{byte(at + 3)};
        if (extent != 0 && header.element_count > std::numeric_limits<std::size_t>::max() / extent)
            throw Error(fmt::format("'{}': IDX dimensions overflow", name));
        header.element_count *= extent;
        header.shape.push_back(extent);
    }
    return true;
}

IdxArray finish(std::string_view bytes, const Header& header, const std::string& name) {
    std::size_t payload = bytes.size() - header.header_bytes;
    if (payload != header.element_count)
        throw Error(fmt::format("'{}': IDX dimensions {} need {} bytes of data, the file has {}{}", name,
                                fmt::join(header.shape, "x"), header.element_count, payload,
                                payload < header.element_count ? " (truncated?)" : ""));
    IdxArray array;
    array.shape = header.shape;
    array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.header_bytes), bytes.end());
    return array;
}

struct GzCloser {
    void operator()(gzFile_s* file) const { gzclose(file); }
};

}  // namespace

IdxArray parse_idx(std::string_view bytes, const std::string& name) {
    Header header;
    if (!parse_header(bytes, name, header))
        throw Error(fmt::format("'{}' is too short for an IDX header ({} bytes)", name, bytes.size()));
    return finish(bytes, header, name);
}

IdxArray read_idx(const std::string& path) {
    // gzread reads plain files unchanged, so one path handles both kinds.
    std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
    if (!file) throw Error(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));

    // Read in chunks rather than allocating what the header claims: a garbage
    // header must not be able to ask for gigabytes.
    std::string bytes;
    Header header;
    bool have_header = false;
    char chunk[1 << 16];
    for (;;) {
        int got = gzread(file.get(), chunk, sizeof chunk);
        if (got < 0) {
            int code = 0;
            const char* message = gzerror(file.get(), &code);
            throw Error(fmt::format("cannot read '{}': corrupt gzip data ({})", path, message));
        }
        if (got == 0) break;
        bytes.append(chunk, static_cast<std::size_t>(got));
        if (!have_header) have_header = parse_header(bytes, path, header);
        // Enough to know the file is too long; parse_idx says so.
        if (have_header && bytes.size() - header.header_bytes > header.element_count) break;
    }
    // A gzip stream cut short ends without an error from gzread on some zlib
    // versions; gzerror still tells.
    int code = 0;
    const char* message = gzerror(file.get(), &code);
    if (code != Z_OK && code != Z_STREAM_END)
        throw Error(fmt::format("cannot read '{}': corrupt or truncated gzip data ({})", path, message));
    return parse_idx(bytes, path);
}

}  // namespace lt
