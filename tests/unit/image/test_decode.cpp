// Decoding: the pixels equal OpenCV's imdecode (an independent decoder of
// the same files) for every kind of JPEG and PNG but CMYK JPEGs, which
// follow Pillow's formula; damaged files are errors, metadata lt ignores is
// not.
#include "lt/base/error.hpp"
#include "lt/image/images.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <cmath>
#include <iostream>
#include <unistd.h>
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>
#include <png.h>

#include <string>
#include <vector>

namespace {

std::string bytes_of(const std::vector<uchar>& encoded) { return std::string(encoded.begin(), encoded.end()); }

std::string encode(const std::string& extension, const cv::Mat& image, const std::vector<int>& parameters = {}) {
    std::vector<uchar> encoded;
    REQUIRE(cv::imencode(extension, image, encoded, parameters));
    return bytes_of(encoded);
}

// What OpenCV makes of the bytes, in RGB order.
cv::Mat opencv_rgb(const std::string& bytes) {
    cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION), rgb;
    REQUIRE(!bgr.empty());
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

void check_same_as_opencv(const std::string& bytes, const std::string& what) {
    INFO(what);
    const cv::Mat ours = lt::decode_image_rgb(bytes, what);
    const cv::Mat theirs = opencv_rgb(bytes);
    REQUIRE(ours.type() == CV_8UC3);
    REQUIRE(ours.size() == theirs.size());
    CHECK(cv::norm(ours, theirs, cv::NORM_INF) == 0);
}

// A photograph-like image: smooth colour gradients, a few discs and noise.
cv::Mat photo(int height, int width, int seed) {
    cv::Mat image(height, width, CV_8UC3);
    cv::RNG rng(static_cast<std::uint64_t>(seed));
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 255) / width),
                                                  static_cast<uchar>((y * 255) / height),
                                                  static_cast<uchar>(((x + y) * 127) / (width + height)));
    for (int i = 0; i < 5; ++i)
        cv::circle(image, {rng.uniform(0, width), rng.uniform(0, height)}, rng.uniform(3, 20),
                   cv::Scalar(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)), -1);
    cv::Mat noise(height, width, CV_8UC3);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 24);
    return image + noise;
}

// ---- PNG files libpng writes (OpenCV writes no palette or interlaced ones)

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
    auto* out = static_cast<std::string*>(png_get_io_ptr(png));
    out->append(reinterpret_cast<const char*>(data), length);
}

struct PngSpec {
    int colour_type, bit_depth;
    bool interlaced = false, transparency = false;
};

// Pixel values are a deterministic pattern in the full range of the depth.
std::string write_png(const PngSpec& spec, int width, int height) {
    std::string out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        FAIL("libpng could not write the test image");
    }
    png_set_write_fn(png, &out, append_bytes, nullptr);
    png_set_IHDR(png, info, width, height, spec.bit_depth, spec.colour_type,
                 spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_color> palette(1 << std::min(spec.bit_depth, 8));
    if (spec.colour_type == PNG_COLOR_TYPE_PALETTE) {
        for (std::size_t i = 0; i < palette.size(); ++i)
            palette[i] = {static_cast<png_byte>(i * 37), static_cast<png_byte>(255 - i * 11), static_cast<png_byte>(i * 5)};
        png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
    }
    std::vector<png_byte> alphas = {0, 128, 255};
    png_color_16 colour_key{};
    colour_key.red = colour_key.green = colour_key.blue = colour_key.gray = 1;
    if (spec.transparency) png_set_tRNS(png, info, alphas.data(), static_cast<int>(alphas.size()), &colour_key);
    png_write_info(png, info);
    const int channels = png_get_channels(png, info);
    const std::size_t row_bytes = (static_cast<std::size_t>(width) * channels * spec.bit_depth + 7) / 8;
    std::vector<std::vector<png_byte>> rows(static_cast<std::size_t>(height), std::vector<png_byte>(row_bytes));
    std::vector<png_bytep> pointers;
    for (std::size_t y = 0; y < rows.size(); ++y) {
        for (std::size_t i = 0; i < row_bytes; ++i) rows[y][i] = static_cast<png_byte>((y * 29 + i * 13) ^ (i >> 3));
        pointers.push_back(rows[y].data());
    }
    png_write_image(png, pointers.data());
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return out;
}

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
    return (std::uint32_t(std::uint8_t(bytes[at])) << 24) | (std::uint32_t(std::uint8_t(bytes[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(bytes[at + 2])) << 8) | std::uint32_t(std::uint8_t(bytes[at + 3]));
}

std::string big_endian_bytes(std::uint32_t value) {
    return {char(value >> 24), char(value >> 16), char(value >> 8), char(value)};
}

// A chunk with a correct CRC.
std::string chunk(const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return big_endian_bytes(static_cast<std::uint32_t>(data.size())) + body + big_endian_bytes(static_cast<std::uint32_t>(crc));
}

// Offset of the first chunk of a type.
std::size_t find_chunk(const std::string& png, const std::string& type) {
    for (std::size_t at = 8; at + 8 <= png.size(); at += 12 + big_endian(png, at))
        if (png.compare(at + 4, 4, type) == 0) return at;
    FAIL("no chunk " << type);
    return 0;
}

// ---- a CMYK JPEG (OpenCV writes none), through libjpeg's encoder

void cmyk_error(j_common_ptr) { FAIL("libjpeg could not write the CMYK test image"); }

std::string write_cmyk_jpeg(int width, int height) {
    jpeg_compress_struct info;
    jpeg_error_mgr errors;
    info.err = jpeg_std_error(&errors);
    errors.error_exit = cmyk_error;
    jpeg_create_compress(&info);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = static_cast<JDIMENSION>(width);
    info.image_height = static_cast<JDIMENSION>(height);
    info.input_components = 4;
    info.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, 90, TRUE);
    jpeg_start_compress(&info, TRUE);
    std::vector<unsigned char> row(static_cast<std::size_t>(width) * 4);
    while (info.next_scanline < info.image_height) {
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 4; ++c)
                row[static_cast<std::size_t>(x * 4 + c)] = static_cast<unsigned char>((x * (c + 1) * 7 + info.next_scanline * 3) % 256);
        unsigned char* pointer = row.data();
        jpeg_write_scanlines(&info, &pointer, 1);
    }
    jpeg_finish_compress(&info);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    jpeg_destroy_compress(&info);
    std::free(buffer);
    return out;
}

std::string error_of(const std::string& bytes) {
    try {
        lt::decode_image_rgb(bytes, "x");
    } catch (const lt::Error& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("decoding: RGB order, grey becomes 3 channels, garbage and empty files are errors") {
    cv::Mat bgr(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));  // OpenCV writes BGR
    for (const char* extension : {".png", ".bmp", ".ppm"}) {
        cv::Mat rgb = lt::decode_image_rgb(encode(extension, bgr), "x");
        CHECK(rgb.at<cv::Vec3b>(1, 1) == cv::Vec3b(30, 20, 10));
    }
    cv::Mat three = lt::decode_image_rgb(encode(".png", cv::Mat(3, 2, CV_8UC1, cv::Scalar(77))), "g.png");
    CHECK(three.type() == CV_8UC3);
    CHECK(three.at<cv::Vec3b>(2, 1) == cv::Vec3b(77, 77, 77));
    CHECK(error_of("not an image at all") == "cannot decode image 'x': not a readable image file");
    CHECK(error_of("") == "cannot decode image 'x': the file is empty");
    CHECK_THROWS_WITH_AS(lt::read_image_rgb("/nonexistent/a.png"),
                         "cannot read image '/nonexistent/a.png': No such file or directory", lt::Error);
    cv::Mat image;
    CHECK(lt::try_read_image_rgb("/nonexistent/a.png", image) == "cannot read: No such file or directory");
}

TEST_CASE("JPEG: the pixels equal OpenCV's for baseline, progressive, 4:4:4, restarts and grey") {
    const cv::Mat image = photo(61, 83, 1);  // sides that are not multiples of the 16-pixel MCU
    check_same_as_opencv(encode(".jpg", image), "baseline 4:2:0");
    check_same_as_opencv(encode(".jpg", image, {cv::IMWRITE_JPEG_QUALITY, 100}), "quality 100");
    check_same_as_opencv(encode(".jpg", image, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), "progressive");
    check_same_as_opencv(encode(".jpg", image, {cv::IMWRITE_JPEG_OPTIMIZE, 1}), "optimised Huffman tables");
    check_same_as_opencv(encode(".jpg", image, {cv::IMWRITE_JPEG_RST_INTERVAL, 2}), "restart markers");
    check_same_as_opencv(encode(".jpg", image, {cv::IMWRITE_JPEG_LUMA_QUALITY, 90, cv::IMWRITE_JPEG_CHROMA_QUALITY, 80}),
                         "4:4:4 (luma and chroma qualities differ)");
    cv::Mat grey;
    cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
    check_same_as_opencv(encode(".jpg", grey), "grey");
}

// The file's CMYK values, decoded by libjpeg without conversion.
cv::Mat raw_cmyk(const std::string& bytes) {
    jpeg_decompress_struct info;
    jpeg_error_mgr errors;
    info.err = jpeg_std_error(&errors);
    errors.error_exit = cmyk_error;
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_CMYK;
    jpeg_start_decompress(&info);
    cv::Mat cmyk(static_cast<int>(info.output_height), static_cast<int>(info.output_width), CV_8UC4);
    while (info.output_scanline < info.output_height) {
        unsigned char* row = cmyk.ptr(static_cast<int>(info.output_scanline));
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return cmyk;
}

TEST_CASE("CMYK JPEG: RGB as PIL makes it, r = k - round((255 - c) k / 255) of the file's (Adobe) values") {
    const std::string bytes = write_cmyk_jpeg(37, 21);
    const cv::Mat cmyk = raw_cmyk(bytes), ours = lt::decode_image_rgb(bytes, "cmyk.jpg");
    REQUIRE(ours.size() == cmyk.size());
    int mismatches = 0;
    for (int y = 0; y < cmyk.rows; ++y)
        for (int x = 0; x < cmyk.cols; ++x) {
            const cv::Vec4b in = cmyk.at<cv::Vec4b>(y, x);
            for (int c = 0; c < 3; ++c) {
                const long expected = in[3] - std::lround((255 - in[c]) * in[3] / 255.0);
                mismatches += ours.at<cv::Vec3b>(y, x)[c] != expected;
            }
        }
    CHECK(mismatches == 0);
    // OpenCV truncates a division by 256 instead: a level or two darker.
    const double opencv_difference = cv::norm(ours, opencv_rgb(bytes), cv::NORM_INF);
    CHECK(opencv_difference > 0);
    CHECK(opencv_difference <= 2);
}

TEST_CASE("JPEG: truncated or damaged files are errors, padding before the end marker is not") {
    const std::string good = encode(".jpg", photo(64, 96, 2), {cv::IMWRITE_JPEG_QUALITY, 95});
    for (double fraction : {0.3, 0.5, 0.9}) {
        INFO("cut to " << fraction);
        const std::string cut = good.substr(0, static_cast<std::size_t>(fraction * static_cast<double>(good.size())));
        CHECK(error_of(cut) == "cannot decode image 'x': broken JPEG: Premature end of JPEG file");
    }
    CHECK(error_of(good.substr(0, good.size() - 2)).find("broken JPEG") != std::string::npos);  // no EOI marker
    const std::string progressive = encode(".jpg", photo(64, 96, 3), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
    CHECK(error_of(progressive.substr(0, progressive.size() / 2)).find("broken JPEG") != std::string::npos);
    CHECK(error_of(good.substr(0, 200)).find("broken JPEG") != std::string::npos);  // inside the headers

    // An end-of-image marker in the middle of the scan: a data segment ends early.
    std::string cut_short = good;
    cut_short.replace(good.size() / 2, 2, "\xFF\xD9");
    CHECK(error_of(cut_short) == "cannot decode image 'x': broken JPEG: Corrupt JPEG data: premature end of data segment");

    // Bytes of padding after the last scan: common in camera files, harmless.
    std::string padded = good;
    padded.insert(good.size() - 2, std::string(7, '\0'));
    check_same_as_opencv(padded, "padding before EOI");
    CHECK(cv::norm(lt::decode_image_rgb(padded, "p"), lt::decode_image_rgb(good, "g"), cv::NORM_INF) == 0);
}

TEST_CASE("PNG: the pixels equal OpenCV's for every colour type and depth, interlaced or not") {
    const std::vector<PngSpec> specs = {
        {PNG_COLOR_TYPE_GRAY, 1},           {PNG_COLOR_TYPE_GRAY, 2},
        {PNG_COLOR_TYPE_GRAY, 4},           {PNG_COLOR_TYPE_GRAY, 8},
        {PNG_COLOR_TYPE_GRAY, 16},          {PNG_COLOR_TYPE_GRAY, 8, false, true},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8},     {PNG_COLOR_TYPE_GRAY_ALPHA, 16},
        {PNG_COLOR_TYPE_PALETTE, 1},        {PNG_COLOR_TYPE_PALETTE, 4},
        {PNG_COLOR_TYPE_PALETTE, 8},        {PNG_COLOR_TYPE_PALETTE, 8, false, true},
        {PNG_COLOR_TYPE_RGB, 8},            {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB, 8, false, true}, {PNG_COLOR_TYPE_RGB_ALPHA, 8},
        {PNG_COLOR_TYPE_RGB_ALPHA, 16},     {PNG_COLOR_TYPE_RGB, 8, true},
        {PNG_COLOR_TYPE_PALETTE, 2, true},  {PNG_COLOR_TYPE_GRAY_ALPHA, 16, true},
    };
    for (const PngSpec& spec : specs)
        check_same_as_opencv(write_png(spec, 13, 11), fmt::format("colour type {}, {} bits{}{}", spec.colour_type,
                                                                  spec.bit_depth, spec.interlaced ? ", interlaced" : "",
                                                                  spec.transparency ? ", tRNS" : ""));
    check_same_as_opencv(encode(".png", photo(300, 257, 4)), "many IDAT chunks");
    check_same_as_opencv(encode(".png", cv::Mat(9, 13, CV_8UC1, cv::Scalar(255)), {cv::IMWRITE_PNG_BILEVEL, 1}),
                         "bilevel");
}

TEST_CASE("PNG: truncated or damaged files are errors, warnings about metadata are not") {
    const std::string good = encode(".png", photo(40, 50, 5));
    CHECK(error_of(good.substr(0, good.size() / 2)) == "cannot decode image 'x': broken PNG: the file ends early (truncated?)");
    CHECK(error_of(good.substr(0, good.size() - 12)).find("broken PNG") != std::string::npos);  // no IEND
    CHECK(error_of(good.substr(0, 20)).find("broken PNG") != std::string::npos);  // inside IHDR

    std::string flipped = good;
    flipped[find_chunk(good, "IDAT") + 20] ^= 0x10;
    // libpng inflates a chunk before it reaches its CRC: either fails it.
    CHECK(error_of(flipped).find("cannot decode image 'x': broken PNG: IDAT: ") == 0);

    // A text chunk whose CRC does not match: the file is damaged, even if
    // only in metadata.
    const std::size_t idat = find_chunk(good, "IDAT");
    std::string text = chunk("tEXt", std::string("Comment\0hello", 13));
    text[12] ^= 1;
    CHECK(error_of(good.substr(0, idat) + text + good.substr(idat)) == "cannot decode image 'x': broken PNG: tEXt: CRC error");

    // A gAMA chunk of the wrong length (libpng warns, and ignores it): lt
    // does not use gamma, so the image is fine.
    const std::string with_bad_gamma = good.substr(0, idat) + chunk("gAMA", "abc") + good.substr(idat);
    CHECK(cv::norm(lt::decode_image_rgb(with_bad_gamma, "g"), lt::decode_image_rgb(good, "g"), cv::NORM_INF) == 0);

    // The header says fewer rows than the image data holds, or more.
    auto with_height = [&](std::uint32_t height) {
        std::string header = good.substr(16, 13);
        header.replace(4, 4, big_endian_bytes(height));
        return good.substr(0, 8) + chunk("IHDR", header) + good.substr(33);
    };
    CHECK(error_of(with_height(39)) == "cannot decode image 'x': broken PNG: IDAT: Too much image data");
    CHECK(error_of(with_height(41)) == "cannot decode image 'x': broken PNG: Not enough image data");
}

namespace {
// What a call writes to the process's stderr (file descriptor 2).
template <class Call>
std::string stderr_of(Call call) {
    std::fflush(stderr);
    std::FILE* capture = std::tmpfile();
    REQUIRE(capture);
    const int saved = dup(2);
    dup2(fileno(capture), 2);
    call();
    std::cerr.flush();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string text;
    std::rewind(capture);
    for (int c = std::fgetc(capture); c != EOF; c = std::fgetc(capture)) text += static_cast<char>(c);
    std::fclose(capture);
    return text;
}
}  // namespace

TEST_CASE("other formats (OpenCV): a truncated file is one error with the cause; OpenCV prints nothing") {
    const std::string bmp = encode(".bmp", photo(20, 30, 6)), ppm = encode(".ppm", photo(20, 30, 7));
    std::string bmp_error, ppm_error;
    const std::string printed = stderr_of([&] {
        bmp_error = error_of(bmp.substr(0, bmp.size() / 2));
        ppm_error = error_of(ppm.substr(0, ppm.size() - 10));
    });
    CHECK(bmp_error == "cannot decode image 'x': broken image data: Unexpected end of input stream");
    CHECK(ppm_error == "cannot decode image 'x': broken image data: Unexpected end of input stream");
    CHECK(printed == "");
    // Other threads' writes to std::cerr still reach stderr.
    CHECK(stderr_of([] { std::cerr << "still here" << std::flush; }) == "still here");
    check_same_as_opencv(bmp, "whole BMP");
}

TEST_CASE("a corrupt header cannot ask for a huge image") {
    std::string good = write_png({PNG_COLOR_TYPE_GRAY, 8}, 4, 4);
    std::string header = good.substr(16, 13);
    header.replace(0, 8, big_endian_bytes(60000) + big_endian_bytes(60000));
    CHECK(error_of(good.substr(0, 8) + chunk("IHDR", header) + good.substr(33)).find("too large") != std::string::npos);
}
