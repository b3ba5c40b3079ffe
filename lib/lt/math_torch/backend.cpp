#include "lt/math_torch/backend.hpp"

#include "lt/base/error.hpp"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <map>
#include <memory>
#include <mutex>

namespace lt::math_torch {

namespace {

class TorchOperand : public math::Backend::Operand {
public:
    TorchOperand(at::Tensor rows_, std::int64_t count_, std::int64_t dim_, bool in_double_)
        : Operand(count_, dim_, in_double_), rows(std::move(rows_)) {}
    at::Tensor rows;  // count x dim on the device
};

template <class T>
constexpr at::ScalarType type_of() {
    return std::is_same_v<T, double> ? at::kDouble : at::kFloat;
}

class TorchBackend : public math::Backend {
public:
    explicit TorchBackend(at::Device device) : device_(device) {}
    std::string device() const override { return device_.is_cuda() ? "cuda" : "cpu"; }

    std::unique_ptr<Operand> keep(const float* rows, std::int64_t count, std::int64_t dim) const override {
        return keep_rows(rows, count, dim);
    }
    std::unique_ptr<Operand> keep(const double* rows, std::int64_t count, std::int64_t dim) const override {
        return keep_rows(rows, count, dim);
    }
    void multiply_transposed(const float* a, std::int64_t m, const Operand& b, float* out) const override {
        product(a, b.dim, m, b.dim, rows_of<float>(b).t(), out, false);
    }
    void multiply_transposed(const double* a, std::int64_t m, const Operand& b, double* out) const override {
        product(a, b.dim, m, b.dim, rows_of<double>(b).t(), out, false);
    }
    void multiply(const float* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                  const Operand& b, float* out, bool accumulate) const override {
        product(a, lda, m, n, rows_of<float>(b).narrow(0, first, n), out, accumulate);
    }
    void multiply(const double* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                  const Operand& b, double* out, bool accumulate) const override {
        product(a, lda, m, n, rows_of<double>(b).narrow(0, first, n), out, accumulate);
    }

private:
    template <class T>
    std::unique_ptr<Operand> keep_rows(const T* rows, std::int64_t count, std::int64_t dim) const {
        at::Tensor host = at::from_blob(const_cast<T*>(rows), {count, dim}, type_of<T>());
        return std::make_unique<TorchOperand>(host.to(device_, type_of<T>(), /*non_blocking=*/false, /*copy=*/true),
                                              count, dim, std::is_same_v<T, double>);
    }

    template <class T>
    static const at::Tensor& rows_of(const Operand& operand) {
        if (operand.in_double != std::is_same_v<T, double>)
            throw Error("internal error: a float operand multiplied in double, or the reverse");
        return static_cast<const TorchOperand&>(operand).rows;
    }

    // out[m x columns of b] (+)= a[m x inner] * b, a with row stride lda.
    template <class T>
    void product(const T* a, std::int64_t lda, std::int64_t m, std::int64_t inner, const at::Tensor& b, T* out,
                 bool accumulate) const {
        if (m == 0) return;
        at::Tensor left = at::from_blob(const_cast<T*>(a), {m, inner}, {lda, 1}, type_of<T>()).to(device_);
        at::Tensor result = at::mm(left, b).to(at::kCPU).contiguous();
        at::Tensor target = at::from_blob(out, {m, b.size(1)}, type_of<T>());
        if (accumulate) target.add_(result);
        else target.copy_(result);
    }

    at::Device device_;
};

}  // namespace

const math::Backend& backend(const std::string& device) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<TorchBackend>> backends;
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = backends[device];
    if (!slot) {
        if (device == "cuda" && !cuda_available()) throw Error("--device cuda: no GPU is visible", "use --device cpu");
        if (device == "cuda") {
            // Full float32 products, as on the CPU (not TF32).
            at::globalContext().setAllowTF32CuBLAS(false);
        } else if (device != "cpu") {
            throw UsageError("unknown device '" + device + "'");
        }
        slot = std::make_unique<TorchBackend>(device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU));
    }
    return *slot;
}

bool cuda_available() { return at::hasCUDA(); }

void provide() {
    math::provide_cuda(&cuda_available, [] () -> const math::Backend& { return backend("cuda"); });
}

}  // namespace lt::math_torch
