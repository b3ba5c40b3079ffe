#include "lt/image/images.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/core/utils/logger.hpp>

// libjpeg's header needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>  // the message codes
#include <sys/stat.h>
#include <png.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <streambuf>

namespace lt {

namespace {

// Far above any photograph (ImageNet's largest has ~16 Mpixels), and keeps a
// corrupt header from asking for a huge allocation.
constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 29;

std::string too_large(std::uint64_t width, std::uint64_t height) {
    return width * height > kMaxPixels
               ? fmt::format("an image of {}x{} pixels is too large (at most {} pixels)", width, height, kMaxPixels)
               : std::string();
}

bool is_jpeg(std::string_view bytes) { return bytes.size() >= 3 && bytes.substr(0, 3) == "\xFF\xD8\xFF"; }
bool is_png(std::string_view bytes) { return bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n"; }

const unsigned char* unsigned_bytes(std::string_view bytes) {
    return reinterpret_cast<const unsigned char*>(bytes.data());
}

// Both libraries report errors through a callback that must not return. It
// records the message and longjmps back to the setjmp of the step that
// called the library. Each step is a function whose locals are all plain C
// data, so a longjmp skips no C++ destructor; the C++ objects (the image,
// the row pointers) live in the caller, which only sees a false return.

// ---- JPEG

struct JpegDecoder {
    jpeg_error_mgr errors;  // first: libjpeg hands the callbacks a pointer to it
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX] = "";
    jpeg_decompress_struct info;
    bool created = false;
    ~JpegDecoder() {
        if (created) jpeg_destroy_decompress(&info);
    }
};

[[noreturn]] void jpeg_fail(j_common_ptr info) {
    auto* decoder = reinterpret_cast<JpegDecoder*>(info->err);
    info->err->format_message(info, decoder->message);
    std::longjmp(decoder->jump, 1);
}

// libjpeg warns, and goes on with made-up data, when the file is damaged:
// premature end of file (truncation), premature end of a data segment, bad
// Huffman codes, lost restart markers. Those fail the file. What lt never
// uses does not: the JFIF version, a colour profile, and bytes of padding
// before the end-of-image marker (common in camera files; every scan is
// complete by then).
bool harmless_jpeg_warning(const jpeg_error_mgr& errors) {
    switch (errors.msg_code) {
        case JWRN_JFIF_MAJOR:
        case JWRN_BOGUS_ICC: return true;
        case JWRN_EXTRANEOUS_DATA: return errors.msg_parm.i[1] == 0xD9;  // before EOI
        default: return false;
    }
}

void jpeg_message(j_common_ptr info, int level) {
    if (level >= 0) return;  // trace messages
    if (!harmless_jpeg_warning(*info->err)) jpeg_fail(info);
}

bool jpeg_start(JpegDecoder& decoder, std::string_view bytes) {
    if (setjmp(decoder.jump)) return false;
    jpeg_create_decompress(&decoder.info);
    decoder.created = true;
    jpeg_mem_src(&decoder.info, unsigned_bytes(bytes), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&decoder.info, TRUE);
    // RGB from grey and YCbCr, CMYK (converted below) from
    // four-component files.
    decoder.info.out_color_space = decoder.info.num_components == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&decoder.info);
    return true;
}

bool jpeg_rows(JpegDecoder& decoder, unsigned char** rows) {
    if (setjmp(decoder.jump)) return false;
    jpeg_decompress_struct& info = decoder.info;
    while (info.output_scanline < info.output_height)
        jpeg_read_scanlines(&info, rows + info.output_scanline, info.output_height - info.output_scanline);
    // Reads on to the end-of-image marker: damage after the last row counts too.
    jpeg_finish_decompress(&info);
    return true;
}

// Pillow's CMYK to RGB (cmyk2rgb, after reading the file's values inverted,
// as Adobe writes them), so that such files decode as torchvision's PIL
// loader decodes them: r = k' - k' (255 - c') / 255, rounded, where c', k'
// are the values in the file. (OpenCV truncates a division by 256 instead:
// a level or two darker on most pixels.)
void cmyk_to_rgb(const unsigned char* cmyk, unsigned char* rgb, int width) {
    for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
        const int k = cmyk[3];
        for (int c = 0; c < 3; ++c) {
            const int product = (255 - cmyk[c]) * k + 128;  // Pillow's MULDIV255: a rounded division by 255
            rgb[c] = static_cast<unsigned char>(k - (((product >> 8) + product) >> 8));
        }
    }
}

std::string decode_jpeg(std::string_view bytes, cv::Mat& rgb) {
    JpegDecoder decoder;
    decoder.info.err = jpeg_std_error(&decoder.errors);
    decoder.errors.error_exit = jpeg_fail;
    decoder.errors.emit_message = jpeg_message;
    if (!jpeg_start(decoder, bytes)) return fmt::format("broken JPEG: {}", decoder.message);
    const jpeg_decompress_struct& info = decoder.info;
    const int width = static_cast<int>(info.output_width), height = static_cast<int>(info.output_height);
    const bool cmyk = info.out_color_space == JCS_CMYK;
    if (info.output_components != (cmyk ? 4 : 3))
        return fmt::format("unsupported JPEG with {} components", info.output_components);
    if (std::string large = too_large(info.output_width, info.output_height); !large.empty()) return large;
    rgb.create(height, width, CV_8UC3);
    cv::Mat decoded = cmyk ? cv::Mat(height, width, CV_8UC4) : rgb;
    std::vector<unsigned char*> rows(static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) rows[static_cast<std::size_t>(y)] = decoded.ptr(y);
    if (!jpeg_rows(decoder, rows.data())) return fmt::format("broken JPEG: {}", decoder.message);
    if (cmyk)
        for (int y = 0; y < height; ++y) cmyk_to_rgb(decoded.ptr(y), rgb.ptr(y), width);
    return {};
}

// ---- PNG

struct PngDecoder {
    std::string_view bytes;
    std::size_t at = 0;
    std::jmp_buf jump;
    char message[256] = "";
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~PngDecoder() {
        if (png) png_destroy_read_struct(&png, &info, nullptr);
    }
};

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
    auto* decoder = static_cast<PngDecoder*>(png_get_error_ptr(png));
    std::snprintf(decoder->message, sizeof decoder->message, "%s", message);
    std::longjmp(decoder->jump, 1);
}

// libpng names the chunk a warning is about ("iCCP: known incorrect sRGB
// profile"). Warnings about ancillary chunks (lower-case first letter:
// colour profiles, gamma, text, time) concern metadata lt does not use;
// those about the image data ("IDAT: Too much image data") fail the file.
// A CRC error fails it in any chunk (png_set_crc_action below).
void png_warn(png_structp png, png_const_charp message) {
    const bool ancillary = std::strlen(message) > 5 && message[4] == ':' &&
                           std::islower(static_cast<unsigned char>(message[0]));
    if (!ancillary) png_fail(png, message);
}

void png_read_bytes(png_structp png, png_bytep out, png_size_t length) {
    auto* decoder = static_cast<PngDecoder*>(png_get_io_ptr(png));
    if (decoder->bytes.size() - decoder->at < length) png_error(png, "the file ends early (truncated?)");
    std::memcpy(out, decoder->bytes.data() + decoder->at, length);
    decoder->at += length;
}

// The transformations OpenCV's PNG decoder asks for with IMREAD_COLOR (but
// RGB order): 8 bits from 16 by dropping the low byte, grey and palette to
// RGB, alpha and transparency dropped.
bool png_start(PngDecoder& decoder) {
    if (setjmp(decoder.jump)) return false;
    decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &decoder, png_fail, png_warn);
    if (!decoder.png) {
        std::snprintf(decoder.message, sizeof decoder.message, "cannot start libpng");
        return false;
    }
    png_structp png = decoder.png;
    decoder.info = png_create_info_struct(png);
    if (!decoder.info) png_error(png, "out of memory");
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_read_fn(png, &decoder, png_read_bytes);
    png_read_info(png, decoder.info);
    const int depth = png_get_bit_depth(png, decoder.info), colour = png_get_color_type(png, decoder.info);
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((colour & PNG_COLOR_MASK_COLOR) == 0) {
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, decoder.info);
    return true;
}

bool png_rows(PngDecoder& decoder, unsigned char** rows) {
    if (setjmp(decoder.jump)) return false;
    png_read_image(decoder.png, rows);
    // Reads on to IEND, checking the CRC of every chunk after the image data.
    png_read_end(decoder.png, nullptr);
    return true;
}

std::string decode_png(std::string_view bytes, cv::Mat& rgb) {
    PngDecoder decoder;
    decoder.bytes = bytes;
    if (!png_start(decoder)) return fmt::format("broken PNG: {}", decoder.message);
    const png_uint_32 width = png_get_image_width(decoder.png, decoder.info);
    const png_uint_32 height = png_get_image_height(decoder.png, decoder.info);
    if (png_get_channels(decoder.png, decoder.info) != 3 || png_get_bit_depth(decoder.png, decoder.info) != 8)
        return "unsupported PNG layout";
    if (std::string large = too_large(width, height); !large.empty()) return large;
    rgb.create(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
    std::vector<unsigned char*> rows(height);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = rgb.ptr(static_cast<int>(y));
    if (!png_rows(decoder, rows.data())) return fmt::format("broken PNG: {}", decoder.message);
    return {};
}

// ---- everything else

// OpenCV's imdecode prints why a file fails to std::cerr itself, as several
// lines ("imdecode_(''): can't read data: OpenCV(4.6.0) ...: error: (-2:...)
// Unexpected end of input stream in function 'readBlock'"), and its codecs
// log warnings. lt reports the reason in its own one line instead: while a
// thread decodes, what it writes to std::cerr is kept for it (lt itself
// never writes there); other threads' writes go to stderr as before,
// unbuffered, as libstdc++'s std::cerr does.
class DecoderMessages : public std::streambuf {
public:
    static thread_local std::string* kept;  // non-null while this thread decodes

protected:
    int_type overflow(int_type c) override {
        if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
        const char byte = traits_type::to_char_type(c);
        return xsputn(&byte, 1) == 1 ? c : traits_type::eof();
    }
    std::streamsize xsputn(const char* text, std::streamsize count) override {
        if (kept) {
            kept->append(text, static_cast<std::size_t>(count));
            return count;
        }
        return static_cast<std::streamsize>(std::fwrite(text, 1, static_cast<std::size_t>(count), stderr));
    }
};
thread_local std::string* DecoderMessages::kept = nullptr;

void quiet_opencv() {
    static DecoderMessages messages;
    static std::once_flag once;
    std::call_once(once, [] {
        std::cerr.rdbuf(&messages);
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    });
}

// The cause in an OpenCV error text: "... error: (-2:Unspecified error) <cause> in function ...".
std::string opencv_cause(const std::string& text) {
    const std::size_t error = text.find("error: (");
    const std::size_t start = error == std::string::npos ? error : text.find(") ", error);
    if (start == std::string::npos) return {};
    const std::size_t end = std::min(text.find(" in function", start), text.find('\n', start));
    return text.substr(start + 2, end == std::string::npos ? std::string::npos : end - start - 2);
}

std::string decode_with_opencv(std::string_view bytes, cv::Mat& rgb) {
    quiet_opencv();
    // imdecode wants a Mat header; it does not modify the bytes.
    cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    cv::Mat bgr;
    std::string messages;
    DecoderMessages::kept = &messages;
    try {
        // IMREAD_IGNORE_ORIENTATION: PIL (torchvision) does not rotate by EXIF.
        bgr = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception& error) {
        messages += error.what();
        bgr.release();
    }
    DecoderMessages::kept = nullptr;
    if (bgr.empty() || bgr.type() != CV_8UC3) {
        std::string cause = opencv_cause(messages);
        if (cause.rfind("OpenCV TIFF: ", 0) == 0) cause.erase(0, 13);
        return cause.empty() ? "not a readable image file" : "broken image data: " + cause;
    }
    // The same limit as for JPEG and PNG, whatever OpenCV's own.
    if (std::string large = too_large(static_cast<std::uint64_t>(bgr.cols), static_cast<std::uint64_t>(bgr.rows));
        !large.empty())
        return large;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return {};
}

// Why bytes are not a usable image, or "" (and the image in rgb).
std::string decode_rgb(std::string_view bytes, cv::Mat& rgb) {
    if (bytes.empty()) return "the file is empty";
    if (bytes.size() > std::size_t{1} << 31) return "the file is larger than 2 GiB";
    if (is_jpeg(bytes)) return decode_jpeg(bytes, rgb);
    if (is_png(bytes)) return decode_png(bytes, rgb);
    return decode_with_opencv(bytes, rgb);
}

// Why a file cannot be read, or "" (and its bytes).
std::string read_bytes(const std::string& path, std::string& bytes) {
    // Before opening: a directory opens as a stream whose size is nonsense.
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) return std::strerror(errno);
    if (S_ISDIR(info.st_mode)) return "is a directory";
    if (!S_ISREG(info.st_mode)) return "not a regular file";
    std::ifstream file(path, std::ios::binary);
    if (!file) return std::strerror(errno);
    file.seekg(0, std::ios::end);
    std::streamoff size = file.tellg();
    file.seekg(0, std::ios::beg);
    if (size < 0 || !file) return "not a regular file";
    bytes.resize(static_cast<std::size_t>(size));
    if (!file.read(bytes.data(), size)) return "read failed";
    return {};
}

}  // namespace

cv::Mat decode_image_rgb(std::string_view bytes, const std::string& name) {
    cv::Mat rgb;
    const std::string problem = decode_rgb(bytes, rgb);
    if (!problem.empty()) throw Error(fmt::format("cannot decode image '{}': {}", name, problem));
    return rgb;
}

cv::Mat read_image_rgb(const std::string& path) {
    std::string bytes;
    const std::string problem = read_bytes(path, bytes);
    if (!problem.empty()) throw Error(fmt::format("cannot read image '{}': {}", path, problem));
    return decode_image_rgb(bytes, path);
}

std::string try_read_image_rgb(const std::string& path, cv::Mat& rgb) {
    std::string bytes;
    std::string problem = read_bytes(path, bytes);
    if (!problem.empty()) return "cannot read: " + problem;
    problem = decode_rgb(bytes, rgb);
    return problem.empty() ? problem : "cannot decode: " + problem;
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
        throw Error(fmt::format("{} ({} line {})", error.what(), list_name, entries[index].line),
                    error.hint().empty() ? "lt-data check LIST --root DIR lists every bad image of a list"
                                         : error.hint());
    }
}

void refuse_outputs_among_images(const ImageDataset& dataset, const std::vector<std::string>& outputs,
                                 std::size_t first, std::size_t end) {
    std::vector<std::pair<const std::string*, struct stat>> existing;
    for (const std::string& output : outputs) {
        struct stat info {};
        if (!output.empty() && output != "-" && stat(output.c_str(), &info) == 0 && S_ISREG(info.st_mode))
            existing.emplace_back(&output, info);
    }
    if (existing.empty()) return;
    for (std::size_t i = first; i < std::min(end, dataset.size()); ++i) {
        const std::string path = dataset.image_path(i);
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) continue;  // the reader reports it
        for (const auto& [output, output_info] : existing)
            if (output_info.st_dev == info.st_dev && output_info.st_ino == info.st_ino)
                throw UsageError(fmt::format("{} is image '{}' of {} (line {}); an output may not replace an input",
                                             *output, path, dataset.list_name, dataset.entries[i].line),
                                 "write the output elsewhere");
    }
}

ImageDataset open_image_dataset(const std::string& list_path, const std::string& root, Labels labels) {
    ImageDataset dataset;
    dataset.root = root;
    dataset.list_name = list_path == "-" ? "standard input" : list_path;
    dataset.entries = read_list(list_path, labels);
    return dataset;
}

}  // namespace lt
