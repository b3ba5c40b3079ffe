// Batches of transformed images, decoded on worker threads ahead of use so
// decoding overlaps compute. Batches come out in the order given (e.g. a
// Sampler's epoch) and are identical whatever the thread count or timing:
// each sample's randomness comes from its own generator, seeded with
// (seed, epoch, position in the epoch). LibTorch-free: images are a
// contiguous float buffer the caller can wrap (torch::from_blob).
//
//   lt::LoaderOptions options;
//   options.batch_size = 128;
//   lt::BatchLoader loader(lt::open_image_dataset(list, root),
//                          lt::image_transform("small", true), options);
//   loader.start_epoch(sampler.epoch_indices(epoch), epoch);
//   lt::Batch batch;
//   while (loader.next(batch)) train_step(batch);
#pragma once

#include "lt/image/images.hpp"
#include "lt/image/transforms.hpp"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace lt {

// Where the loader puts the batches' images: the heap, or memory a caller
// provides (page-locked memory, which a GPU copies from asynchronously:
// lt/learn/precision.hpp). Called from the loader's threads and from
// wherever batches are dropped: it must be thread-safe.
class HostMemory {
public:
    virtual ~HostMemory() = default;
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void release(void* pointer) noexcept = 0;
};

template <class T>
struct HostAllocator {
    using value_type = T;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;
    std::shared_ptr<HostMemory> memory;  // nullptr: the heap

    HostAllocator() = default;
    explicit HostAllocator(std::shared_ptr<HostMemory> from) : memory(std::move(from)) {}
    template <class U>
    HostAllocator(const HostAllocator<U>& other) : memory(other.memory) {}  // NOLINT: rebinding is implicit

    T* allocate(std::size_t count) {
        if (!memory) return static_cast<T*>(::operator new(count * sizeof(T)));
        void* pointer = memory->allocate(count * sizeof(T));
        if (pointer == nullptr) throw std::bad_alloc();
        return static_cast<T*>(pointer);
    }
    void deallocate(T* pointer, std::size_t) noexcept {
        if (memory)
            memory->release(pointer);
        else
            ::operator delete(pointer);
    }
    template <class U>
    bool operator==(const HostAllocator<U>& other) const { return memory == other.memory; }
    template <class U>
    bool operator!=(const HostAllocator<U>& other) const { return memory != other.memory; }
};

using ImageBuffer = std::vector<float, HostAllocator<float>>;

struct LoaderOptions {
    int batch_size = 64;
    int workers = 1;           // decoding threads (>= 1)
    int prefetch_batches = 2;  // batches decoded ahead of the one being used
    bool drop_last = false;    // drop a last, smaller batch
    std::uint64_t seed = 0;
    std::shared_ptr<HostMemory> host_memory;  // of the batches' images; nullptr: the heap
};

struct Batch {
    ImageBuffer images;                 // size() x 3 x height x width, CHW per image
    std::vector<std::int64_t> labels;   // class of each image
    std::vector<std::size_t> indices;   // index of each image in the data set
    std::size_t number = 0;             // 0-based batch number in the epoch
    int height = 0, width = 0;
    std::size_t size() const { return labels.size(); }
};

class BatchLoader {
public:
    BatchLoader(ImageDataset dataset, ImageTransform transform, LoaderOptions options);
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    // Starts an epoch visiting order (indices into the data set); an epoch
    // still running is abandoned. epoch seeds the augmentations. positions,
    // when given (one per entry of order), are the samples' positions in the
    // whole epoch, which seed their augmentations instead of their place in
    // order: a process of a data-parallel job that loads its share of every
    // batch augments each image as a single process would.
    void start_epoch(std::vector<std::size_t> order, std::uint64_t epoch, std::vector<std::size_t> positions = {});

    // The next batch of the epoch into batch; false once the epoch is done.
    // An image that cannot be read or transformed throws the worker's
    // lt::Error (naming the file and list line) when its batch is reached;
    // the epoch then stays failed until the next start_epoch.
    bool next(Batch& batch);

    // Batches in the current epoch.
    std::size_t batch_count() const;
    const ImageDataset& dataset() const { return dataset_; }
    int worker_count() const { return static_cast<int>(workers_.size()); }

private:
    struct Slot {
        Batch batch;
        std::size_t pending = 0;       // samples not yet written
        std::size_t first_error = 0;   // position in the epoch of the error kept
        std::exception_ptr error;
    };

    void work();
    Slot& slot_for(std::size_t batch_number);  // creates it on first use; lock held

    const ImageDataset dataset_;
    const ImageTransform transform_;
    const LoaderOptions options_;

    mutable std::mutex mutex_;
    std::condition_variable work_ready_, batch_ready_, idle_;
    std::vector<std::size_t> order_;
    std::vector<std::size_t> positions_;  // empty: the place in order_
    std::uint64_t epoch_ = 0;
    std::uint64_t generation_ = 0;   // bumped by start_epoch; stale work is dropped
    std::size_t samples_ = 0;        // samples in the epoch (after drop_last)
    std::size_t next_position_ = 0;  // next sample a worker claims
    std::size_t consumed_ = 0;       // batches handed out
    std::size_t in_flight_ = 0;      // samples being decoded outside the lock
    std::map<std::size_t, Slot> slots_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace lt
