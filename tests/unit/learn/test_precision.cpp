// Mixed precision on the CPU: the dynamic loss scaler against hand-worked
// steps, autocast's switch and its types, --amp checked against the device,
// and a backbone's bf16 features next to its float32 ones.
#include "lt/base/error.hpp"
#include "lt/learn/models.hpp"
#include "lt/learn/precision.hpp"
#include "lt/learn/torch_version.hpp"

#include <ATen/autocast_mode.h>
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <limits>

using lt::precision::LossScaler;

namespace {
lt::Compute compute_with(const std::string& amp) {
    lt::Compute compute;
    compute.amp = amp;
    return compute;
}

// LibTorch 2.4 names autocast's state by device type.
bool cpu_autocast_enabled() {
#if LT_TORCH_AT_LEAST(2, 4)
    return at::autocast::is_autocast_enabled(at::kCPU);
#else
    return at::autocast::is_cpu_enabled();
#endif
}
}  // namespace

TEST_CASE("precision: a disabled loss scaler scales by 1 and never skips") {
    LossScaler scaler(false);
    const at::Tensor loss = torch::tensor(3.5);
    CHECK(scaler.scale(loss).item<double>() == 3.5);
    at::Tensor w = torch::tensor({1.0f}, torch::requires_grad());
    w.mutable_grad() = torch::tensor({std::numeric_limits<float>::infinity()});
    CHECK(scaler.unscale({w}));
    scaler.update();
    CHECK(scaler.current_scale() == 1.0);
    CHECK(scaler.skipped_steps() == 0);
}

TEST_CASE("precision: loss scaling, unscaling, skipped steps, back-off and growth") {
    LossScaler::Options options;
    options.initial_scale = 8;
    options.growth_interval = 3;
    LossScaler scaler(true, options);
    // loss = 2 w x with x = 3: d loss / d w = 6, the scaled gradient 48.
    at::Tensor w = torch::tensor({0.5f}, torch::requires_grad());
    at::Tensor loss = 2 * w * 3;
    CHECK(scaler.scale(loss).item<double>() == doctest::Approx(8 * 3.0));
    scaler.scale(loss).sum().backward();
    CHECK(w.grad().item<float>() == 48.0f);
    CHECK(scaler.unscale({w}));
    CHECK(w.grad().item<float>() == 6.0f);
    scaler.update();
    CHECK(scaler.current_scale() == 8);

    // An overflow: the step is skipped and the scale halved; a NaN likewise.
    w.mutable_grad() = torch::tensor({std::numeric_limits<float>::infinity()});
    CHECK_FALSE(scaler.unscale({w}));
    scaler.update();
    CHECK(scaler.current_scale() == 4);
    w.mutable_grad() = torch::tensor({std::numeric_limits<float>::quiet_NaN()});
    at::Tensor finite = torch::tensor({1.0f}, torch::requires_grad());
    finite.mutable_grad() = torch::tensor({4.0f});
    CHECK_FALSE(scaler.unscale({finite, w}));
    scaler.update();
    CHECK(scaler.current_scale() == 2);
    CHECK(scaler.skipped_steps() == 2);

    // growth_interval good steps in a row double it; a parameter without a
    // gradient is left alone.
    at::Tensor unused = torch::tensor({1.0f}, torch::requires_grad());
    for (int step = 0; step < 3; ++step) {
        finite.mutable_grad() = torch::tensor({4.0f});
        CHECK(scaler.unscale({finite, unused}));
        CHECK(finite.grad().item<float>() == 2.0f);  // 4 / scale 2
        CHECK(scaler.current_scale() == 2);
        scaler.update();
    }
    CHECK(scaler.current_scale() == 4);
    CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("precision: --amp against the device") {
    const at::Device cpu(at::kCPU);
    const auto off = lt::precision::configure(compute_with("off"), cpu);
    CHECK_FALSE(off.autocast);
    CHECK(off.channels_last);  // oneDNN's NHWC convolutions are the faster on the CPU too
    const auto bf16 = lt::precision::configure(compute_with("bf16"), cpu);
    CHECK(bf16.autocast);
    CHECK((bf16.lower == at::kBFloat16));
    CHECK_FALSE(bf16.loss_scaling);
    CHECK_THROWS_AS(lt::precision::configure(compute_with("fp16"), cpu), lt::UsageError);
    CHECK_THROWS_AS(lt::precision::configure(compute_with("fp8"), cpu), lt::UsageError);
}

TEST_CASE("precision: CPU autocast while the guard lives, nothing without --amp") {
    const at::Tensor x = torch::randn({4, 8}), w = torch::randn({3, 8});
    const auto bf16 = lt::precision::configure(compute_with("bf16"), at::Device(at::kCPU));
    const auto off = lt::precision::configure(compute_with("off"), at::Device(at::kCPU));
    {
        lt::precision::Autocast autocast(off);
        CHECK((at::linear(x, w).scalar_type() == at::kFloat));
    }
    {
        lt::precision::Autocast autocast(bf16);
        CHECK(cpu_autocast_enabled());
        const at::Tensor y = at::linear(x, w);
        CHECK((y.scalar_type() == at::kBFloat16));
        // bf16 keeps 8 bits of mantissa: within 1% of the float32 product.
        const at::Tensor exact = at::linear(x.to(at::kDouble), w.to(at::kDouble));
        CHECK((y.to(at::kDouble) - exact).abs().max().item<double>() <=
              0.02 * exact.abs().max().item<double>());
    }
    CHECK_FALSE(cpu_autocast_enabled());
    CHECK((at::linear(x, w).scalar_type() == at::kFloat));
}

TEST_CASE("precision: a backbone's bf16 features are float32 and close to its float32 features") {
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    const auto backbone = lt::models::make_backbone("resnet20");
    backbone->eval();
    const at::Tensor images = torch::randn({4, 3, 32, 32});
    const at::Tensor exact = backbone->forward(images);
    const auto bf16 = lt::precision::configure(compute_with("bf16"), at::Device(at::kCPU));
    at::Tensor features;
    {
        lt::precision::Autocast autocast(bf16);
        features = backbone->forward(lt::precision::input(images, bf16)).to(at::kFloat);
    }
    CHECK((features.scalar_type() == at::kFloat));
    CHECK((features.sizes() == exact.sizes()));
    const double relative = ((features - exact).abs().max() / exact.abs().max()).item<double>();
    MESSAGE("resnet20 bf16 vs float32 features: max relative difference " << relative);
    CHECK(relative < 0.05);
    CHECK(relative > 0);  // the bf16 path really ran
}
