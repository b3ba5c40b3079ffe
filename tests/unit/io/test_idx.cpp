// IDX reader: plain and gzip files, and every kind of bad file gives an
// lt::Error (never a crash or a huge allocation).
#include "lt/base/error.hpp"
#include "lt/io/idx.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <filesystem>

namespace {

// Header bytes for unsigned-byte data of the given shape.
std::string idx_bytes(const std::vector<std::uint32_t>& shape, const std::string& payload) {
    std::string bytes = {0, 0, 0x08, static_cast<char>(shape.size())};
    for (std::uint32_t extent : shape)
        for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((extent >> shift) & 0xFF);
    return bytes + payload;
}

std::string gzip(const std::string& path, const std::string& bytes) {
    gzFile file = gzopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    gzclose(file);
    return path;
}

std::string read_bytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), {});
}

}  // namespace

TEST_CASE("IDX: shape and row-major data") {
    std::string payload = {1, 2, 3, 4, 5, 6};
    auto array = lt::parse_idx(idx_bytes({2, 3}, payload), "x");
    CHECK(array.shape == std::vector<std::size_t>{2, 3});
    CHECK(array.data == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6});

    // 300 = 0x012C: the dimensions are big-endian.
    auto long_one = lt::parse_idx(idx_bytes({300}, std::string(300, 'a')), "x");
    CHECK(long_one.shape == std::vector<std::size_t>{300});
}

TEST_CASE("IDX files: gzip-compressed or not give the same array") {
    lt::test::TempFolder folder;
    std::string bytes = idx_bytes({4, 2, 2}, std::string(16, '\x07'));
    auto plain = lt::read_idx(folder.write("plain-idx3-ubyte", bytes));
    auto compressed = lt::read_idx(gzip(folder.file("packed-idx3-ubyte.gz"), bytes));
    CHECK(plain.shape == std::vector<std::size_t>{4, 2, 2});
    CHECK(compressed.shape == plain.shape);
    CHECK(compressed.data == plain.data);
}

TEST_CASE("IDX: bad headers and sizes are errors naming the file") {
    auto error_of = [](const std::string& bytes) -> std::string {
        try {
            lt::parse_idx(bytes, "f.idx");
        } catch (const lt::Error& error) {
            return error.what();
        }
        return "no error";
    };
    CHECK(error_of("") == "'f.idx' is too short for an IDX header (0 bytes)");
    CHECK(error_of(std::string("\x1f\x8b\x08\x00", 4)).find("is not an IDX file") != std::string::npos);
    CHECK(error_of(std::string("\0\0\x0b\x01\0\0\0\x01\0\0", 10)).find("type 0x0b is not supported") !=
          std::string::npos);
    CHECK(error_of(std::string("\0\0\x08\0", 4)).find("claims 0 dimensions") != std::string::npos);
    CHECK(error_of(idx_bytes({2, 3}, "").substr(0, 9)).find("too short") != std::string::npos);
    CHECK(error_of(idx_bytes({2, 3}, "abc")) == "'f.idx': IDX dimensions 2x3 need 6 bytes of data, the file has 3 (truncated?)");
    CHECK(error_of(idx_bytes({2, 3}, "abcdefg")) == "'f.idx': IDX dimensions 2x3 need 6 bytes of data, the file has 7");
    // A garbage header that claims 2^128 elements overflows, it does not allocate.
    CHECK(error_of(idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, "x")).find("overflow") !=
          std::string::npos);
}

TEST_CASE("IDX files: missing, truncated, corrupt gzip, and lying headers") {
    lt::test::TempFolder folder;
    CHECK_THROWS_WITH_AS(lt::read_idx(folder.file("absent.gz")), doctest::Contains("cannot read"), lt::Error);

    std::string bytes = idx_bytes({1000, 28, 28}, std::string(1000 * 28 * 28, '\x42'));
    std::string packed = read_bytes(gzip(folder.file("whole.gz"), bytes));
    CHECK_THROWS_AS(lt::read_idx(folder.write("cut.gz", packed.substr(0, packed.size() / 2))), lt::Error);
    std::string mangled = packed;
    for (std::size_t i = 20; i < 200; ++i) mangled[i] = static_cast<char>(i * 37);
    CHECK_THROWS_AS(lt::read_idx(folder.write("mangled.gz", mangled)), lt::Error);
    CHECK_THROWS_AS(lt::read_idx(folder.write("empty", "")), lt::Error);
    CHECK_THROWS_AS(lt::read_idx(folder.write("noise", std::string("\0\0\x08\x03garbage garbage", 19))), lt::Error);
    // A header claiming 4 GB with a few bytes behind it: an error, quickly.
    CHECK_THROWS_WITH_AS(lt::read_idx(gzip(folder.file("liar.gz"), idx_bytes({0xFFFFFFFF}, "tiny"))),
                         doctest::Contains("truncated"), lt::Error);
}

TEST_CASE("IDX: Debian's Fashion-MNIST test labels, when installed") {
    const std::string path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (!std::filesystem::exists(path)) return;
    auto labels = lt::read_idx(path);
    REQUIRE(labels.shape == std::vector<std::size_t>{10000});
    // The test set is balanced: 1,000 images of each of the 10 classes.
    std::vector<int> counts(10, 0);
    for (std::uint8_t label : labels.data) {
        REQUIRE(label < 10);
        ++counts[label];
    }
    CHECK(counts == std::vector<int>(10, 1000));
}
