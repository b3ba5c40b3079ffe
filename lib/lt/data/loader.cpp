#include "lt/data/loader.hpp"

#include "lt/base/error.hpp"
#include "lt/base/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <new>

namespace lt {

namespace {

constexpr std::uint64_t kLoaderStream = 0x4C4F414445525321ull;  // "LOADERS!"

}  // namespace

BatchLoader::BatchLoader(ImageDataset dataset, ImageTransform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(transform), options_(options) {
    if (options_.batch_size < 1) throw UsageError("the batch size must be at least 1");
    if (options_.prefetch_batches < 1) throw UsageError("at least one batch must be prefetched");
    if (options_.workers < 1) throw UsageError("a loader needs at least one worker");
    workers_.reserve(static_cast<std::size_t>(options_.workers));
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
}

void BatchLoader::start_epoch(std::vector<std::size_t> order, std::uint64_t epoch, std::vector<std::size_t> positions) {
    for (std::size_t index : order)
        if (index >= dataset_.size())
            throw Error(fmt::format("sample index {} is outside the data set of {} images", index, dataset_.size()));
    if (!positions.empty() && positions.size() != order.size())
        throw Error(fmt::format("{} positions for {} samples", positions.size(), order.size()));
    std::unique_lock<std::mutex> lock(mutex_);
    ++generation_;
    // Workers still decoding write into the old slots: wait for them.
    idle_.wait(lock, [this] { return in_flight_ == 0; });
    slots_.clear();
    order_ = std::move(order);
    positions_ = std::move(positions);
    epoch_ = epoch;
    const auto batch = static_cast<std::size_t>(options_.batch_size);
    samples_ = options_.drop_last ? order_.size() / batch * batch : order_.size();
    next_position_ = 0;
    consumed_ = 0;
    lock.unlock();
    work_ready_.notify_all();
}

std::size_t BatchLoader::batch_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto batch = static_cast<std::size_t>(options_.batch_size);
    return (samples_ + batch - 1) / batch;
}

BatchLoader::Slot& BatchLoader::slot_for(std::size_t batch_number) {
    auto found = slots_.find(batch_number);
    if (found != slots_.end()) return found->second;
    Slot& slot = slots_[batch_number];
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    std::size_t begin = batch_number * batch_size, end = std::min(begin + batch_size, samples_);
    slot.pending = end - begin;
    slot.batch.number = batch_number;
    slot.batch.height = slot.batch.width = transform_.size;
    slot.batch.images = ImageBuffer(slot.pending * transform_.floats_per_image(),
                                    HostAllocator<float>(options_.host_memory));
    for (std::size_t position = begin; position < end; ++position) {
        slot.batch.indices.push_back(order_[position]);
        slot.batch.labels.push_back(dataset_.entries[order_[position]].label);
    }
    return slot;
}

void BatchLoader::work() {
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    const auto window = static_cast<std::size_t>(options_.prefetch_batches);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        // Claim the next sample, unless its batch is too far ahead of the consumer.
        work_ready_.wait(lock, [&] {
            return stopping_ || (next_position_ < samples_ && next_position_ / batch_size < consumed_ + window);
        });
        if (stopping_) return;
        const std::size_t position = next_position_++;
        const std::size_t batch_number = position / batch_size;
        const std::uint64_t generation = generation_, epoch = epoch_;
        const std::size_t index = order_[position];
        const std::size_t seed_position = positions_.empty() ? position : positions_[position];
        Slot& slot = slot_for(batch_number);
        float* destination =
            slot.batch.images.data() + (position - batch_number * batch_size) * transform_.floats_per_image();
        ++in_flight_;
        lock.unlock();

        std::exception_ptr error;
        try {
            cv::Mat image = dataset_.load(index);
            Rng rng = make_rng(options_.seed, {kLoaderStream, epoch, seed_position});
            try {
                transform_.apply(image, rng, destination);
            } catch (const std::exception& problem) {
                // Named like a decoding error: which image, which list line. An
                // OpenCV exception's text is several lines; its last names the cause.
                const auto* opencv = dynamic_cast<const cv::Exception*>(&problem);
                const bool memory = dynamic_cast<const std::bad_alloc*>(&problem) ||
                                    (opencv && opencv->code == cv::Error::StsNoMem);
                throw Error(fmt::format("cannot transform image '{}' of {}x{} pixels: {} ({} line {})",
                                        dataset_.image_path(index), image.cols, image.rows,
                                        memory ? std::string("out of memory") : (opencv ? opencv->err : problem.what()),
                                        dataset_.list_name, dataset_.entries[index].line));
            }
        } catch (...) {
            error = std::current_exception();
        }

        lock.lock();
        --in_flight_;
        if (generation == generation_) {
            // Keep the error of the earliest sample, so the message does not
            // depend on thread timing.
            if (error && (!slot.error || position < slot.first_error)) {
                slot.error = error;
                slot.first_error = position;
            }
            if (--slot.pending == 0) batch_ready_.notify_all();
        }
        if (in_flight_ == 0) idle_.notify_all();
    }
}

bool BatchLoader::next(Batch& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    if (consumed_ * batch_size >= samples_) return false;
    batch_ready_.wait(lock, [&] {
        auto found = slots_.find(consumed_);
        return found != slots_.end() && found->second.pending == 0;
    });
    Slot& slot = slots_.at(consumed_);
    if (slot.error) std::rethrow_exception(slot.error);
    batch = std::move(slot.batch);
    slots_.erase(consumed_);
    ++consumed_;
    lock.unlock();
    work_ready_.notify_all();
    return true;
}

}  // namespace lt
