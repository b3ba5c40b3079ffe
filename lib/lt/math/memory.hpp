// Buffers whose allocation failure is lt's own one-line error with a hint
// (usually a smaller --block-rows), not an allocator's message.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace lt::math {

[[noreturn]] void fail_allocation(std::size_t bytes, const std::string& what, const std::string& hint);

// v.resize(count), or lt::Error "cannot allocate N MiB for <what>" (hint).
template <class T>
void allocate(std::vector<T>& v, std::size_t count, const std::string& what, const std::string& hint) {
    if (v.size() >= count) return;
    try {
        v.resize(count);
    } catch (const std::bad_alloc&) {
        fail_allocation(count * sizeof(T), what, hint);
    } catch (const std::length_error&) {
        fail_allocation(count * sizeof(T), what, hint);
    }
}

}  // namespace lt::math
