// Where the large products of the training-free core run. The CPU backend
// (OpenBLAS) is always there; a build with LT_TORCH_BACKEND links the
// math_torch wing, which provides --device cuda through provide_cuda().
// Everything else (norms, softmax, top-k) runs on the CPU in any case.
#pragma once

#include "lt/base/compute.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace lt::math {

class Backend {
public:
    // A right-hand operand (count x dim rows) kept where the backend
    // multiplies, reused across calls.
    class Operand {
    public:
        Operand(std::int64_t count_, std::int64_t dim_, bool in_double_)
            : count(count_), dim(dim_), in_double(in_double_) {}
        virtual ~Operand() = default;
        const std::int64_t count, dim;
        const bool in_double;
    };

    virtual ~Backend() = default;
    virtual std::string device() const = 0;  // "cpu" | "cuda"

    // The CPU backend refers to the rows in place: they must outlive the operand.
    virtual std::unique_ptr<Operand> keep(const float* rows, std::int64_t count, std::int64_t dim) const = 0;
    virtual std::unique_ptr<Operand> keep(const double* rows, std::int64_t count, std::int64_t dim) const = 0;

    // out[m x b.count] = a[m x b.dim] * b^T.
    virtual void multiply_transposed(const float* a, std::int64_t m, const Operand& b, float* out) const = 0;
    virtual void multiply_transposed(const double* a, std::int64_t m, const Operand& b, double* out) const = 0;
    // out[m x b.dim] = a[m x n] * (rows [first, first + n) of b), or += with
    // accumulate; row r of a starts at a + r * lda.
    virtual void multiply(const float* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                          const Operand& b, float* out, bool accumulate) const = 0;
    virtual void multiply(const double* a, std::int64_t lda, std::int64_t m, std::int64_t first, std::int64_t n,
                          const Operand& b, double* out, bool accumulate) const = 0;
};

const Backend& cpu_backend();

// Applies compute.threads and returns the backend of compute.device:
// cpu; cuda (an error unless this build has the CUDA backend and a GPU is
// visible); auto = cuda when both are there, else cpu.
const Backend& use(const Compute& compute);

// How the CUDA backend makes itself known (lt/math_torch): whether a GPU is
// visible, and the backend.
void provide_cuda(bool (*available)(), const Backend& (*backend)());

}  // namespace lt::math
