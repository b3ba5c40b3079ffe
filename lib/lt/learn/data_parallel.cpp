#include "lt/learn/data_parallel.hpp"

#include "lt/base/error.hpp"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <fmt/format.h>

namespace lt::dist {

GradientBuckets::GradientBuckets(const std::vector<at::Tensor>& parameters, Group& group,
                                 std::size_t first_bucket_bytes, std::size_t bucket_bytes)
    : parameters_(parameters), group_(group) {
    if (parameters_.empty()) throw Error("no parameters to average");
    Bucket current;
    std::size_t bytes = 0;
    const auto limit = [&] { return buckets_.empty() ? first_bucket_bytes : bucket_bytes; };
    for (std::size_t i = parameters_.size(); i-- > 0;) {
        current.parameters.push_back(i);
        bytes += static_cast<std::size_t>(parameters_[i].numel()) * parameters_[i].element_size();
        if (bytes >= limit()) {
            buckets_.push_back(std::move(current));
            current = Bucket();
            bytes = 0;
        }
    }
    if (!current.parameters.empty()) buckets_.push_back(std::move(current));
    place_.resize(parameters_.size());
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
        Bucket& bucket = buckets_[b];
        std::int64_t size = 0;
        for (std::size_t i : bucket.parameters) {
            place_[i] = {b, size};
            bucket.offsets.push_back(size);
            size += parameters_[i].numel();
        }
        if (b + 1 == buckets_.size()) value_offset_ = size++;
        bucket.flat = at::zeros({size}, parameters_.front().options().requires_grad(false));
    }
    // A hook runs when the backward pass has the parameter's gradient, before
    // it is added to .grad; the gradient itself passes on unchanged.
    for (std::size_t i = 0; i < parameters_.size(); ++i)
        hooks_.push_back(parameters_[i].register_hook([this, i](const at::TensorBase& gradient) {
            on_gradient(i, at::Tensor(gradient));
        }));
}

GradientBuckets::~GradientBuckets() {
    for (std::size_t i = 0; i < hooks_.size(); ++i) parameters_[i].remove_hook(hooks_[i]);
}

void GradientBuckets::arm(bool accumulated, double value) {
    for (Bucket& bucket : buckets_) {
        bucket.waiting = bucket.parameters.size();
        bucket.sum.reset();
    }
    next_launch_ = 0;
    armed_ = true;
    accumulated_ = accumulated;
    value_ = value;
}

void GradientBuckets::on_gradient(std::size_t parameter, const at::Tensor& gradient) {
    if (!armed_) return;
    const auto [b, offset] = place_[parameter];
    Bucket& bucket = buckets_[b];
    if (bucket.waiting == 0)
        throw Error(fmt::format("parameter {} received two gradients in one backward pass", parameter));
    at::NoGradGuard no_grad;
    at::Tensor slot = bucket.flat.narrow(0, offset, gradient.numel());
    const at::Tensor& earlier = parameters_[parameter].grad();
    if (accumulated_ && earlier.defined())
        at::add_out(slot, gradient.reshape({-1}), earlier.reshape({-1}));
    else
        slot.copy_(gradient.reshape({-1}));
    if (--bucket.waiting > 0) return;
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) {
        Bucket& ready = buckets_[next_launch_];
        if (next_launch_ + 1 == buckets_.size()) ready.flat[value_offset_].fill_(value_);
        ready.sum = group_.allreduce_sum_async(ready.flat);
        ++next_launch_;
    }
}

double GradientBuckets::finish() {
    if (!armed_) throw Error("GradientBuckets::finish without arm");
    armed_ = false;
    if (next_launch_ != buckets_.size()) {
        for (const Bucket& bucket : buckets_)
            if (bucket.waiting > 0)
                throw Error(fmt::format("parameter {} received no gradient in the step", bucket.parameters.front()));
    }
    at::NoGradGuard no_grad;
    const double scale = 1.0 / group_.size();
    for (Bucket& bucket : buckets_) {
        bucket.sum->finish();
        bucket.sum.reset();
        bucket.flat.mul_(scale);
        for (std::size_t j = 0; j < bucket.parameters.size(); ++j) {
            at::Tensor& parameter = parameters_[bucket.parameters[j]];
            parameter.mutable_grad().copy_(
                bucket.flat.narrow(0, bucket.offsets[j], parameter.numel()).view(parameter.sizes()));
        }
    }
    return buckets_.back().flat[value_offset_].item<double>();
}

}  // namespace lt::dist
