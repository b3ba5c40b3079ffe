#include "lt/math/backend.hpp"

#include "lt/base/error.hpp"
#include "lt/math/blas.hpp"

namespace lt::math {

namespace {

template <class T>
class CpuOperand : public Backend::Operand {
public:
    CpuOperand(const T* rows_, std::int64_t count_, std::int64_t dim_)
        : Operand(count_, dim_, std::is_same_v<T, double>), rows(rows_) {}
    const T* rows;
};

template <class T>
const T* rows_of(const Backend::Operand& operand) {
    if (operand.in_double != std::is_same_v<T, double>)
        throw Error("internal error: a float operand multiplied in double, or the reverse");
    return static_cast<const CpuOperand<T>&>(operand).rows;
}

class CpuBackend : public Backend {
public:
    std::string device() const override { return "cpu"; }
    std::unique_ptr<Operand> keep(const float* rows, std::int64_t count, std::int64_t dim) const override {
        return std::make_unique<CpuOperand<float>>(rows, count, dim);
    }
    std::unique_ptr<Operand> keep(const double* rows, std::int64_t count, std::int64_t dim) const override {
        return std::make_unique<CpuOperand<double>>(rows, count, dim);
    }
    void multiply_transposed(const float* a, std::int64_t m, const Operand& b, float* out) const override {
        gemm_nt(m, b.count, b.dim, a, b.dim, rows_of<float>(b), b.dim, out, b.count);
    }
    void multiply_transposed(const double* a, std::int64_t m, const Operand& b, double* out) const override {
        gemm_nt(m, b.count, b.dim, a, b.dim, rows_of<double>(b), b.dim, out, b.count);
    }
    void multiply(const float* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                  const Operand& b, float* out, bool accumulate) const override {
        gemm_nn(m, b.dim, n, a, lda, rows_of<float>(b) + first * b.dim, b.dim, out, b.dim, 1, accumulate ? 1 : 0);
    }
    void multiply(const double* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                  const Operand& b, double* out, bool accumulate) const override {
        gemm_nn(m, b.dim, n, a, lda, rows_of<double>(b) + first * b.dim, b.dim, out, b.dim, 1, accumulate ? 1 : 0);
    }
};

bool (*cuda_available)() = nullptr;
const Backend& (*cuda_backend)() = nullptr;

}  // namespace

const Backend& cpu_backend() {
    static const CpuBackend backend;
    return backend;
}

void provide_cuda(bool (*available)(), const Backend& (*backend)()) {
    cuda_available = available;
    cuda_backend = backend;
}

const Backend& use(const Compute& compute) {
    set_threads(compute.threads);
    if (compute.device == "cpu") return cpu_backend();
    if (compute.device == "auto") return cuda_backend && cuda_available() ? cuda_backend() : cpu_backend();
    if (compute.device != "cuda")
        throw UsageError("unknown device '" + compute.device + "' (expected cpu, cuda or auto)");
    if (!cuda_backend)
        throw Error("--device cuda: this lt was built without the CUDA backend",
                    "use --device cpu, or build with -DLT_TORCH_BACKEND=ON against a CUDA-enabled LibTorch");
    if (!cuda_available())
        throw Error("--device cuda: no GPU is visible, or this LibTorch was built without CUDA",
                    "use --device cpu");
    return cuda_backend();
}

}  // namespace lt::math
