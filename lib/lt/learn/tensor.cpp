#include "lt/learn/tensor.hpp"

#include "lt/base/error.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <cstring>

namespace lt {

void use_threads(int threads) { at::set_num_threads(threads); }

at::Tensor to_tensor(const Matrix& matrix, at::ScalarType type) {
    auto tensor = at::from_blob(const_cast<float*>(matrix.values.data()), {matrix.rows, matrix.cols}, at::kFloat);
    return tensor.to(type, /*non_blocking=*/false, /*copy=*/true);
}

at::Tensor to_tensor(const std::vector<std::int64_t>& values) {
    return at::from_blob(const_cast<std::int64_t*>(values.data()), {static_cast<std::int64_t>(values.size())},
                         at::kLong)
        .clone();
}

Matrix to_matrix(const at::Tensor& tensor) {
    at::Tensor contiguous = tensor.to(at::kCPU).to(at::kFloat).contiguous();
    Matrix matrix(contiguous.size(0), contiguous.size(1));
    if (!matrix.values.empty())
        std::memcpy(matrix.values.data(), contiguous.data_ptr<float>(), matrix.values.size() * sizeof(float));
    return matrix;
}

at::Device resolve_device(const std::string& name) {
    bool has_cuda = at::hasCUDA();
    if (name == "cpu" || (name == "auto" && !has_cuda)) return at::Device(at::kCPU);
    if (name == "cuda" || name == "auto") {
        if (!has_cuda)
            throw Error("--device cuda: this lt was built with a CPU-only LibTorch, or no GPU is visible",
                        "use --device cpu, or rebuild against a CUDA-enabled LibTorch");
        return at::Device(at::kCUDA);
    }
    throw UsageError("unknown device '" + name + "' (expected cpu, cuda or auto)");
}

}  // namespace lt
