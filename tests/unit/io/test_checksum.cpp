// lookup3 against Bob Jenkins' published values, and the superblock repair
// against checksums the HDF5 library itself wrote.
#include "lt/io/checksum.hpp"
#include "lt/io/h5.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

TEST_CASE("lookup3 gives the values of its reference implementation") {
    CHECK(lt::h5::lookup3("", 0, 0) == 0xdeadbeefu);
    const std::string text = "Four score and seven years ago";
    CHECK(lt::h5::lookup3(text.data(), text.size(), 0) == 0x17770551u);
    CHECK(lt::h5::lookup3(text.data(), text.size(), 1) == 0xcd628161u);
}

TEST_CASE("a superblock checksum is left alone when right and restored when wrong") {
    lt::test::TempFolder dir;
    {
        lt::h5::OutputFile out(dir.file("p.h5"), "prototypes");
        out.write_ints("class_ids", std::vector<std::int64_t>{3, 5});
        out.commit();
    }
    std::ifstream in(dir.file("p.h5"), std::ios::binary);
    std::vector<unsigned char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(image.size() > 48);
    REQUIRE(image[8] == 2);  // the superblock version lt writes
    const std::vector<unsigned char> written = image;
    CHECK_FALSE(lt::h5::repair_superblock_checksum(image.data(), image.size()));
    const std::size_t checksum = 12 + 4 * image[9];
    for (std::size_t i = checksum; i < checksum + 4; ++i) image[i] ^= 0x5a;
    CHECK(lt::h5::repair_superblock_checksum(image.data(), image.size()));
    CHECK(image == written);
    image[8] = 0;  // version 0 superblocks have no checksum
    CHECK_FALSE(lt::h5::repair_superblock_checksum(image.data(), image.size()));
}
