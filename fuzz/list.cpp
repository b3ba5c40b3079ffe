// Fuzzes the list-file parser (lt::parse_list): any bytes must give entries
// or an lt::Error, never a crash, a hang or an accepted negative label.
#include "lt/base/error.hpp"
#include "lt/io/lists.hpp"

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::istringstream input(std::string(reinterpret_cast<const char*>(data), size));
    try {
        for (const lt::ListEntry& entry : lt::parse_list(input, "fuzz.txt")) {
            // What the parser promises its callers.
            if (entry.label < 0 || entry.path.empty() || entry.line == 0) std::abort();
        }
    } catch (const lt::Error&) {
    }
    return 0;
}
