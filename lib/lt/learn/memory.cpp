#include "lt/learn/memory.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace lt::memory {

namespace {

// Every block starts with its capacity; the tensor's data follows, aligned
// as c10's own CPU allocator aligns it.
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHeader = 64;
constexpr std::size_t kKeptFrom = std::size_t{1} << 20;
// A free block serves a request of at least half its size.
constexpr std::size_t kLargestWaste = 2;
// Kept blocks may hold this many times the most the process ever used at
// once; beyond, free ones go back to the system, largest first.
constexpr double kHeldOverPeak = 1.5;

struct Blocks {
    std::mutex mutex;
    std::multimap<std::size_t, char*> free;  // capacity -> block
    std::size_t held = 0;                    // capacity of kept blocks, in use or free
    std::size_t in_use = 0, peak_in_use = 0;
};

// Never destroyed: tensors may still be freed while the process exits.
Blocks& blocks() {
    static Blocks* instance = new Blocks;
    return *instance;
}

std::size_t& capacity_of(char* block) { return *reinterpret_cast<std::size_t*>(block); }

void release(void* data) {
    if (!data) return;
    char* block = static_cast<char*>(data) - kHeader;
    const std::size_t capacity = capacity_of(block);
    if (capacity < kKeptFrom) {
        std::free(block);
        return;
    }
    Blocks& kept = blocks();
    std::lock_guard<std::mutex> lock(kept.mutex);
    kept.in_use -= capacity;
    kept.free.emplace(capacity, block);
}

char* system_block(std::size_t capacity) {
    void* block = nullptr;
    if (posix_memalign(&block, kAlignment, kHeader + capacity) != 0) return nullptr;
    return static_cast<char*>(block);
}

// c10::Allocator's allocate() is const before LibTorch 2.3 and not from
// then on, where copy_data() joins it: both forms of allocate() are
// defined, and copy_data(), without `override`, so that whichever the
// LibTorch declares is the one overridden.
class ReusingAllocator final : public c10::Allocator {
public:
    c10::DataPtr allocate(std::size_t bytes) const { return allocate_block(bytes); }
    c10::DataPtr allocate(std::size_t bytes) { return allocate_block(bytes); }
    void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
    c10::DeleterFnPtr raw_deleter() const override { return &release; }

private:
    static c10::DataPtr allocate_block(std::size_t bytes) {
        const c10::Device cpu(c10::DeviceType::CPU);
        if (bytes == 0) return {nullptr, nullptr, &release, cpu};
        char* block = bytes >= kKeptFrom ? kept_block(bytes) : system_block(bytes);
        TORCH_CHECK(block, "cannot allocate ", bytes, " bytes of tensor memory");
        if (bytes < kKeptFrom) capacity_of(block) = bytes;
        void* data = block + kHeader;
        return {data, data, &release, cpu};
    }
    static char* kept_block(std::size_t bytes) {
        Blocks& kept = blocks();
        std::lock_guard<std::mutex> lock(kept.mutex);
        auto found = kept.free.lower_bound(bytes);
        char* block = nullptr;
        if (found != kept.free.end() && found->first <= kLargestWaste * bytes) {
            block = found->second;
            kept.free.erase(found);
        } else {
            // Room for a new block: free blocks beyond what the process needs.
            const std::size_t bound = static_cast<std::size_t>(
                kHeldOverPeak * static_cast<double>(std::max(kept.peak_in_use, kept.in_use + bytes)));
            while (!kept.free.empty() && kept.held + bytes > bound) {
                auto largest = std::prev(kept.free.end());
                kept.held -= largest->first;
                std::free(largest->second);
                kept.free.erase(largest);
            }
            block = system_block(bytes);
            if (!block) return nullptr;
            capacity_of(block) = bytes;
            kept.held += bytes;
        }
        kept.in_use += capacity_of(block);
        kept.peak_in_use = std::max(kept.peak_in_use, kept.in_use);
        return block;
    }
};

}  // namespace

void reuse_tensor_memory() {
    static ReusingAllocator* allocator = [] {
        auto* instance = new ReusingAllocator;
        // Priority above c10's default CPU allocator (0).
        c10::SetCPUAllocator(instance, /*priority=*/1);
        return instance;
    }();
    (void)allocator;
}

std::size_t held_bytes() {
    Blocks& kept = blocks();
    std::lock_guard<std::mutex> lock(kept.mutex);
    return kept.held;
}

}  // namespace lt::memory
