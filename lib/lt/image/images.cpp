#include "lt/image/images.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

namespace lt {

namespace {

std::uint32_t big_endian_32(const unsigned char* bytes) {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
           std::uint32_t{bytes[3]};
}

bool is_png(std::string_view bytes) { return bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n"; }

// The reason a PNG file is broken, or "" when it is sound. OpenCV's PNG
// decoder leaves libpng's default handlers in place, which print to stderr;
// checking the structure first (chunk CRCs, header fields, the compressed
// image data inflating to exactly the rows the header implies, each row's
// filter type) turns every broken file into one error message instead.
std::string png_defect(std::string_view file) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(file.data());
    const std::size_t size = file.size();
    std::size_t at = 8;
    std::uint32_t width = 0, height = 0;
    int depth = 0, colour_type = -1, interlace = 0;
    bool have_palette = false, in_idat = false, idat_done = false, ended = false;

    // Inflation state for the concatenated IDAT chunks.
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK) return "cannot initialise zlib";
    struct InflateEnd {
        z_stream* stream;
        ~InflateEnd() { inflateEnd(stream); }
    } inflate_end{&stream};
    bool stream_ended = false;
    std::vector<std::uint64_t> row_bytes;  // bytes of each row of each pass, filter byte included
    std::size_t row = 0;
    std::uint64_t in_row = 0;  // bytes of the current row seen so far
    unsigned char window[1 << 15];

    while (!ended) {
        if (size - at < 12) return "the file ends inside a chunk (truncated?)";
        const std::uint32_t length = big_endian_32(bytes + at);
        const std::string type(file.substr(at + 4, 4));
        if (length > size - at - 12) return fmt::format("chunk {} is cut short (truncated?)", type);
        const unsigned char* data = bytes + at + 8;
        uLong crc = crc32(0L, bytes + at + 4, 4 + length);
        if (crc != big_endian_32(data + length)) return fmt::format("chunk {} fails its CRC check", type);
        at += 12 + std::size_t{length};

        if (type == "IHDR") {
            if (length != 13 || width != 0) return "bad IHDR chunk";
            width = big_endian_32(data);
            height = big_endian_32(data + 4);
            depth = data[8];
            colour_type = data[9];
            interlace = data[12];
            static const std::pair<int, int> valid[] = {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {2, 8}, {2, 16},
                                                        {3, 1}, {3, 2}, {3, 4}, {3, 8}, {4, 8},  {4, 16}, {6, 8},
                                                        {6, 16}};
            if (std::find(std::begin(valid), std::end(valid), std::pair<int, int>(colour_type, depth)) == std::end(valid))
                return fmt::format("colour type {} with bit depth {} is not valid", colour_type, depth);
            if (width == 0 || height == 0 || width > (1u << 24) || height > (1u << 24) || data[10] != 0 ||
                data[11] != 0 || interlace > 1)
                return "bad IHDR values";
            const int channels[] = {1, 0, 3, 1, 2, 0, 4};
            const std::uint64_t bits_per_pixel = std::uint64_t(channels[colour_type]) * depth;
            // Rows of the whole image, or of the 7 Adam7 passes.
            static const int pass_x0[] = {0, 4, 0, 2, 0, 1, 0}, pass_dx[] = {8, 8, 4, 4, 2, 2, 1};
            static const int pass_y0[] = {0, 0, 4, 0, 2, 0, 1}, pass_dy[] = {8, 8, 8, 4, 4, 2, 2};
            for (int pass = 0; pass < (interlace ? 7 : 1); ++pass) {
                std::uint64_t pass_width = interlace ? (width + pass_dx[pass] - pass_x0[pass] - 1) / pass_dx[pass] : width;
                std::uint64_t pass_height = interlace ? (height + pass_dy[pass] - pass_y0[pass] - 1) / pass_dy[pass] : height;
                if (pass_width == 0 || pass_height == 0) continue;
                row_bytes.insert(row_bytes.end(), pass_height, 1 + (pass_width * bits_per_pixel + 7) / 8);
            }
        } else if (width == 0) {
            return "the first chunk is not IHDR";
        } else if (type == "PLTE") {
            have_palette = true;
        } else if (type == "IDAT") {
            if (idat_done) return "image data chunks are not consecutive";
            if (colour_type == 3 && !have_palette) return "a palette image without a palette";
            in_idat = true;
            stream.next_in = const_cast<unsigned char*>(data);
            stream.avail_in = length;
            while (stream.avail_in > 0 && !stream_ended) {
                stream.next_out = window;
                stream.avail_out = sizeof window;
                int status = inflate(&stream, Z_NO_FLUSH);
                if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR)
                    return "the compressed image data is corrupt";
                stream_ended = status == Z_STREAM_END;
                // Walk the rows of what came out: each starts with a filter type 0-4.
                for (const unsigned char* out = window; out < stream.next_out;) {
                    if (row == row_bytes.size()) return "more image data than the header implies";
                    if (in_row == 0 && *out > 4) return fmt::format("row {} has filter type {}", row, *out);
                    std::uint64_t take = std::min<std::uint64_t>(row_bytes[row] - in_row, stream.next_out - out);
                    out += take;
                    in_row += take;
                    if (in_row == row_bytes[row]) {
                        ++row;
                        in_row = 0;
                    }
                }
                if (status == Z_BUF_ERROR && stream.avail_in > 0 && stream.avail_out > 0)
                    return "the compressed image data is corrupt";
            }
        } else {
            if (in_idat) idat_done = true;
            if (type == "IEND") ended = true;
            // An unknown chunk whose name starts upper-case is critical: decoders must refuse it.
            else if (std::isupper(static_cast<unsigned char>(type[0])) && type != "PLTE")
                return fmt::format("unknown critical chunk {}", type);
        }
    }
    if (!in_idat) return "no image data";
    if (!stream_ended || row != row_bytes.size()) return "less image data than the header implies (truncated?)";
    return {};
}

}  // namespace

cv::Mat decode_image_rgb(std::string_view bytes, const std::string& name) {
    if (bytes.empty()) throw Error(fmt::format("cannot decode image '{}': the file is empty", name));
    if (is_png(bytes)) {
        std::string defect = png_defect(bytes);
        if (!defect.empty()) throw Error(fmt::format("cannot decode image '{}': broken PNG: {}", name, defect));
    }
    // imdecode wants a Mat header; it does not modify the bytes.
    cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    cv::Mat bgr;
    try {
        // IMREAD_IGNORE_ORIENTATION: PIL (torchvision) does not rotate by EXIF.
        bgr = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception&) {
        bgr.release();
    }
    if (bgr.empty() || bgr.type() != CV_8UC3)
        throw Error(fmt::format("cannot decode image '{}': not a readable image file", name));
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

cv::Mat read_image_rgb(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("cannot read image '{}': {}", path, std::strerror(errno)));
    std::string bytes;
    file.seekg(0, std::ios::end);
    std::streamoff size = file.tellg();
    file.seekg(0, std::ios::beg);
    if (size < 0 || !file) throw Error(fmt::format("cannot read image '{}': not a regular file", path));
    bytes.resize(static_cast<std::size_t>(size));
    if (!file.read(bytes.data(), size)) throw Error(fmt::format("cannot read image '{}': read failed", path));
    return decode_image_rgb(bytes, path);
}

std::vector<std::int64_t> ImageDataset::labels() const {
    std::vector<std::int64_t> result;
    result.reserve(entries.size());
    for (const ListEntry& entry : entries) result.push_back(entry.label);
    return result;
}

std::string ImageDataset::image_path(std::size_t index) const {
    const std::string& relative = entries.at(index).path;
    if (root.empty() || relative.front() == '/') return relative;
    return root.back() == '/' ? root + relative : root + "/" + relative;
}

cv::Mat ImageDataset::load(std::size_t index) const {
    try {
        return read_image_rgb(image_path(index));
    } catch (const Error& error) {
        throw Error(fmt::format("{} ({} line {})", error.what(), list_name, entries[index].line), error.hint());
    }
}

ImageDataset open_image_dataset(const std::string& list_path, const std::string& root) {
    ImageDataset dataset;
    dataset.root = root;
    dataset.list_name = list_path == "-" ? "standard input" : list_path;
    dataset.entries = read_list(list_path);
    return dataset;
}

}  // namespace lt
