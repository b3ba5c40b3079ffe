#include "lt/math/memory.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

namespace lt::math {

void fail_allocation(std::size_t bytes, const std::string& what, const std::string& hint) {
    throw Error(fmt::format("cannot allocate {:.0f} MiB for {}", static_cast<double>(bytes) / (1 << 20), what), hint);
}

}  // namespace lt::math
