// Fuzzes the IDX reader: the bytes are written to a file and read with
// lt::read_idx, which takes both plain and gzip-compressed files (a seed of
// each kind is in the corpus).
#include "fuzz_file.hpp"

#include "lt/base/error.hpp"
#include "lt/io/idx.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lt::fuzz::write_input(data, size);
    try {
        lt::IdxArray array = lt::read_idx(path);
        std::size_t elements = 1;
        for (std::size_t extent : array.shape) elements *= extent;
        if (array.shape.empty() || elements != array.data.size()) std::abort();
    } catch (const lt::Error&) {
    }
    return 0;
}
