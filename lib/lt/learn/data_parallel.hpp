// Gradients averaged over the ranks of a data-parallel job, overlapped with
// the backward pass, as PyTorch's DistributedDataParallel does: parameters
// are grouped into buckets in reverse order (about the order in which the
// backward pass produces their gradients), a hook on each parameter copies
// its gradient into its bucket, and a full bucket starts its allreduce at
// once while the backward pass goes on. Buckets start strictly in order, so
// every rank issues the same sequence of collectives.
//
//   GradientBuckets buckets(model->parameters(), group);
//   model->zero_grad();
//   for each micro-batch but the last: loss_k.backward();   // local sums only
//   buckets.arm(/*accumulated=*/M > 1, rank_loss);
//   last_loss.backward();                                   // buckets in flight
//   double job_loss = buckets.finish();                     // .grad = mean over ranks
#pragma once

#include "lt/learn/distributed.hpp"

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace lt::dist {

class GradientBuckets {
public:
    // DistributedDataParallel's defaults: a small first bucket, so that
    // communication starts early, then 25 MiB buckets.
    static constexpr std::size_t kFirstBucketBytes = std::size_t{1} << 20;
    static constexpr std::size_t kBucketBytes = std::size_t{25} << 20;

    GradientBuckets(const std::vector<at::Tensor>& parameters, Group& group,
                    std::size_t first_bucket_bytes = kFirstBucketBytes, std::size_t bucket_bytes = kBucketBytes);
    ~GradientBuckets();
    GradientBuckets(const GradientBuckets&) = delete;
    GradientBuckets& operator=(const GradientBuckets&) = delete;

    // The next backward pass completes the step: its gradients are sent as
    // they become ready. accumulated: the parameters' .grad already holds the
    // earlier micro-batches of the step, which are sent along. value travels
    // with the last bucket and comes back averaged (the rank's loss).
    void arm(bool accumulated, double value);

    // After that backward pass: waits for the sums and sets each .grad to the
    // mean over the ranks. Returns the mean of the ranks' values.
    double finish();

    std::size_t bucket_count() const { return buckets_.size(); }

private:
    struct Bucket {
        std::vector<std::size_t> parameters;
        std::vector<std::int64_t> offsets;
        at::Tensor flat;
        std::size_t waiting = 0;  // gradients not yet copied in
        std::unique_ptr<Group::Pending> sum;
    };
    void on_gradient(std::size_t parameter, const at::Tensor& gradient);

    std::vector<at::Tensor> parameters_;
    std::vector<unsigned> hooks_;
    Group& group_;
    std::vector<Bucket> buckets_;
    std::vector<std::pair<std::size_t, std::int64_t>> place_;  // parameter -> (bucket, offset)
    std::int64_t value_offset_ = 0;  // in the last bucket
    std::size_t next_launch_ = 0;
    bool armed_ = false, accumulated_ = false;
    double value_ = 0;
};

}  // namespace lt::dist
