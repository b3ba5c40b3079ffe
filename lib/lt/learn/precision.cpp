#include "lt/learn/precision.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/learn/torch_version.hpp"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/Allocator.h>

#include <exception>
#include <map>
#include <mutex>
#include <string>

// LibTorch 2.4 names autocast's switches by device type; the older
// per-device functions are deprecated there.
#if LT_TORCH_AT_LEAST(2, 4)
#define LT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace lt::precision {

namespace {

// LibTorch convolves in bf16 with oneDNN only on a CPU with AVX-512 (bw, vl
// and dq: the check it makes itself); elsewhere with its reference loops,
// about 10x slower than float32 (ResNet-50, measured with oneDNN turned off).
bool cpu_convolves_bf16_with_onednn() {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq");
#else
    return true;  // other CPUs: LibTorch's own choice, unjudged here
#endif
}

// Where oneDNN is used but cannot convolve in bf16 (held below AVX-512 by
// ONEDNN_MAX_CPU_ISA, say), the first batch would fail in oneDNN's words
// ("could not create a primitive descriptor iterator"): one tiny
// convolution tells first.
void require_cpu_bf16_convolutions() {
    const auto bf16 = at::TensorOptions().dtype(at::kBFloat16);
    try {
        at::conv2d(at::ones({1, 3, 4, 4}, bf16).contiguous(at::MemoryFormat::ChannelsLast),
                   at::ones({2, 3, 3, 3}, bf16).contiguous(at::MemoryFormat::ChannelsLast));
    } catch (const std::exception& error) {  // oneDNN's own error type, or a c10::Error
        const std::string what = error.what();
        throw Error("--amp bf16: this CPU's LibTorch cannot convolve in bf16 (" + what.substr(0, what.find('\n')) + ")",
                    "use --amp off on this machine, or --device cuda");
    }
}

}  // namespace

Settings configure(const Compute& compute, const at::Device& device) {
    Settings settings;
    settings.device = device;
    const bool cuda = device.is_cuda();
    if (compute.amp == "bf16" || compute.amp == "fp16") {
        settings.autocast = true;
        settings.lower = compute.amp == "bf16" ? at::kBFloat16 : at::kHalf;
        settings.loss_scaling = compute.amp == "fp16";
        if (settings.loss_scaling && !cuda)
            throw UsageError("--amp fp16 needs --device cuda: CPU autocast computes in bf16 only",
                             "use --amp bf16 on the cpu");
    } else if (compute.amp != "off") {
        throw UsageError("unknown --amp '" + compute.amp + "' (expected off, bf16 or fp16)");
    }
    // NHWC convolutions: faster with cuDNN, and with oneDNN on the CPU too
    // (ResNet-20 at 28 px trains about 25% faster than in NCHW memory).
    settings.channels_last = true;
    if (!cuda) {
        if (settings.autocast) {
            if (cpu_convolves_bf16_with_onednn())
                require_cpu_bf16_convolutions();
            else
                log::warn("--amp bf16: this CPU lacks AVX-512 (avx512bw, avx512vl, avx512dq), so LibTorch convolves "
                          "in bf16 with its reference code, about 10x slower than float32 (--amp off is faster here)");
        }
        if (!compute.tf32 || compute.deterministic)
            log::verbose("--no-tf32 and --deterministic apply to cuda only; the cpu computes in float32 and "
                         "deterministically");
        return settings;
    }
    at::Context& context = at::globalContext();
    // Autotuning picks each convolution's fastest algorithm once per shape;
    // the fastest are not always deterministic.
    context.setBenchmarkCuDNN(!compute.deterministic);
    context.setDeterministicCuDNN(compute.deterministic);
    context.setAllowTF32CuBLAS(compute.tf32);
    context.setAllowTF32CuDNN(compute.tf32);
    return settings;
}

void prepare(torch::nn::Module& module, const Settings& settings) {
    if (!settings.channels_last) return;
    torch::NoGradGuard no_grad;
    for (at::Tensor& parameter : module.parameters())
        if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(at::MemoryFormat::ChannelsLast));
    for (at::Tensor& buffer : module.buffers())
        if (buffer.dim() == 4) buffer.set_data(buffer.contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor input(const at::Tensor& images, const Settings& settings) {
    return settings.channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

Autocast::Autocast(const Settings& settings) : active_(settings.autocast), cuda_(settings.device.is_cuda()) {
    if (!active_) return;
#if defined(LT_AUTOCAST_BY_DEVICE_TYPE)
    const at::DeviceType type = cuda_ ? at::kCUDA : at::kCPU;
    was_enabled_ = at::autocast::is_autocast_enabled(type);
    was_type_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, settings.lower);
    at::autocast::set_autocast_enabled(type, true);
#else
    if (cuda_) {
        was_enabled_ = at::autocast::is_enabled();
        was_type_ = at::autocast::get_autocast_gpu_dtype();
        at::autocast::set_autocast_gpu_dtype(settings.lower);
        at::autocast::set_enabled(true);
    } else {
        was_enabled_ = at::autocast::is_cpu_enabled();
        was_type_ = at::autocast::get_autocast_cpu_dtype();
        at::autocast::set_autocast_cpu_dtype(settings.lower);
        at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
}

Autocast::~Autocast() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if defined(LT_AUTOCAST_BY_DEVICE_TYPE)
    const at::DeviceType type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_enabled(type, was_enabled_);
    at::autocast::set_autocast_dtype(type, was_type_);
#else
    if (cuda_) {
        at::autocast::set_enabled(was_enabled_);
        at::autocast::set_autocast_gpu_dtype(was_type_);
    } else {
        at::autocast::set_cpu_enabled(was_enabled_);
        at::autocast::set_autocast_cpu_dtype(was_type_);
    }
#endif
}

LossScaler::LossScaler(bool enabled, Options options)
    : enabled_(enabled), options_(options), scale_(enabled ? options.initial_scale : 1.0) {}

at::Tensor LossScaler::scale(const at::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool LossScaler::unscale(const std::vector<at::Tensor>& parameters) {
    last_finite_ = true;
    if (!enabled_) return true;
    torch::NoGradGuard no_grad;
    // One flag on the device for all gradients: a single read back per step.
    at::Tensor bad;
    for (const at::Tensor& parameter : parameters) {
        const at::Tensor& grad = parameter.grad();
        if (!grad.defined()) continue;
        grad.mul_(1.0 / scale_);
        at::Tensor here = grad.isfinite().logical_not().any();
        bad = bad.defined() ? bad.logical_or(here) : here;
    }
    last_finite_ = !bad.defined() || !bad.item<bool>();
    return last_finite_;
}

void LossScaler::update() {
    if (!enabled_) return;
    if (!last_finite_) {
        scale_ *= options_.backoff_factor;
        good_steps_ = 0;
        ++skipped_;
        log::verbose("fp16 gradients overflowed: step skipped, loss scale now {}", scale_);
        return;
    }
    if (++good_steps_ >= options_.growth_interval) {
        scale_ *= options_.growth_factor;
        good_steps_ = 0;
    }
}

namespace {

// CUDA's caching host allocator, reached through the CUDA hooks so that a
// CPU-only LibTorch links too (it is only called for a cuda device). Its
// blocks are kept by pointer until released.
class PinnedMemory : public HostMemory {
public:
    PinnedMemory() : allocator_(at::detail::getCUDAHooks().getPinnedMemoryAllocator()) {}
    void* allocate(std::size_t bytes) override {
        c10::DataPtr block = allocator_->allocate(bytes);
        void* pointer = block.get();
        std::lock_guard<std::mutex> lock(mutex_);
        blocks_.emplace(pointer, std::move(block));
        return pointer;
    }
    void release(void* pointer) noexcept override {
        c10::DataPtr block;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto found = blocks_.find(pointer);
            if (found == blocks_.end()) return;
            block = std::move(found->second);
            blocks_.erase(found);
        }
    }

private:
    c10::Allocator* allocator_;
    std::mutex mutex_;
    std::map<void*, c10::DataPtr> blocks_;
};

}  // namespace

std::shared_ptr<HostMemory> host_memory(const at::Device& device) {
    if (!device.is_cuda()) return nullptr;
    return std::make_shared<PinnedMemory>();
}

at::Tensor batch_images(Batch& batch, const at::Device& device, std::int64_t views) {
    const auto n = static_cast<std::int64_t>(batch.size());
    at::Tensor images =
        views == 1 ? at::from_blob(batch.images.data(), {n, 3, batch.height, batch.width}, at::kFloat)
                   : at::from_blob(batch.images.data(), {n, views, 3, batch.height, batch.width}, at::kFloat);
    if (!device.is_cuda()) return images.to(device);
    // The copy records its stream on the page-locked block (LibTorch 2.x
    // finds the block by this pointer, its start), so that the block is not
    // handed out again before the copy has ended.
    return images.to(device, /*non_blocking=*/true);
}

}  // namespace lt::precision
