// How lt-train and lt-extract run their networks on a device: mixed
// precision (--amp), TF32 (--no-tf32), cuDNN's autotuning and determinism
// (--deterministic), channels_last memory (NHWC convolutions, on the CPU as
// on CUDA), and page-locked host memory for the batches copied to a GPU.
// The CPU default (no --amp) computes in float32, deterministically.
//
//   const precision::Settings settings = precision::configure(compute, device);
//   precision::prepare(*model, settings);            // once, after model->to(device)
//   {
//       precision::Autocast autocast(settings);        // the forward pass only
//       loss = criterion(model->forward(precision::input(images, settings)), targets);
//   }
//   scaler.scale(loss).backward();                     // fp16: precision::LossScaler
//   if (scaler.unscale(parameters)) optimizer.step();  // skipped on inf/nan gradients
//   scaler.update();
#pragma once

#include "lt/base/compute.hpp"
#include "lt/data/loader.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lt::precision {

struct Settings {
    at::Device device = at::Device(at::kCPU);
    bool autocast = false;                      // --amp bf16 | fp16
    at::ScalarType lower = at::kBFloat16;       // autocast's type
    bool loss_scaling = false;                  // fp16: gradients underflow without it
    bool channels_last = true;                  // NHWC convolutions (faster with cuDNN and oneDNN)
};

// Checks --amp against device (fp16 needs cuda: UsageError) and sets the
// process-wide switches: on CUDA, cuDNN autotuning unless --deterministic
// (then cuDNN's deterministic algorithms), TF32 unless --no-tf32.
Settings configure(const Compute& compute, const at::Device& device);

// The 4-d parameters and buffers of module in channels_last memory (when
// settings ask for it): before an optimizer keeps buffers like them.
void prepare(torch::nn::Module& module, const Settings& settings);

// A batch of images [N, 3, H, W] laid out as the network expects it.
at::Tensor input(const at::Tensor& images, const Settings& settings);

// Autocast on the settings' device while it lives (nothing without --amp),
// as torch.autocast does: nested uses share the cast cache, cleared when
// the outermost ends.
class Autocast {
public:
    explicit Autocast(const Settings& settings);
    ~Autocast();
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;

private:
    bool active_ = false;
    bool cuda_ = false;
    bool was_enabled_ = false;
    at::ScalarType was_type_ = at::kFloat;
};

// Dynamic loss scaling for fp16 (PyTorch's torch.cuda.amp.GradScaler, whose
// C++ counterpart LibTorch 1.13 lacks): the loss is multiplied by a scale
// before the backward pass; the gradients are divided by it again; a step
// whose gradients hold an inf or a NaN is skipped and the scale halved;
// after growth_interval good steps in a row the scale doubles. Disabled,
// it scales by 1 and never skips.
class LossScaler {
public:
    struct Options {
        double initial_scale = 65536.0;
        double growth_factor = 2.0;
        double backoff_factor = 0.5;
        std::int64_t growth_interval = 2000;
    };
    explicit LossScaler(bool enabled = false) : LossScaler(enabled, Options{}) {}
    LossScaler(bool enabled, Options options);

    at::Tensor scale(const at::Tensor& loss) const;
    // Divides every defined gradient by the scale; true when all of them are
    // finite (the step may be taken).
    bool unscale(const std::vector<at::Tensor>& parameters);
    // After each step (taken or skipped): adjusts the scale to the last unscale's outcome.
    void update();

    bool enabled() const { return enabled_; }
    double current_scale() const { return scale_; }
    std::int64_t skipped_steps() const { return skipped_; }

private:
    bool enabled_;
    Options options_;
    double scale_;
    bool last_finite_ = true;
    std::int64_t good_steps_ = 0, skipped_ = 0;
};

// Page-locked host memory for the batches of a loader whose images go to
// device (CUDA's caching host allocator): their copies can run
// asynchronously. nullptr (the heap) for the CPU.
std::shared_ptr<HostMemory> host_memory(const at::Device& device);

// The images of a loader's batch on device: [N, 3, H, W] float32, or
// [N, views, 3, H, W] when the loader gives several views of each image. From
// page-locked memory the copy is asynchronous; the batch's memory must live
// until the stream has used it, which every caller ensures by reading a
// result back (loss.item(), features.to(kCPU)) before the next batch.
at::Tensor batch_images(Batch& batch, const at::Device& device, std::int64_t views = 1);

}  // namespace lt::precision
