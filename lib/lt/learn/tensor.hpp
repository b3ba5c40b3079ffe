// Bridges between the library's plain types and ATen tensors, for training
// and extraction. Include only from .cpp files: it pulls ATen in.
#pragma once

#include "lt/io/schema.hpp"

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace lt {

at::Tensor to_tensor(const Matrix& matrix, at::ScalarType type = at::kFloat);
at::Tensor to_tensor(const std::vector<std::int64_t>& values);
Matrix to_matrix(const at::Tensor& tensor);

// LibTorch's intra-op thread count (it defaults to 1 when OpenMP does).
void use_threads(int threads);

// "cpu", "cuda" or "auto" (cuda when LibTorch has it and a GPU is present).
// Asking for cuda without it is an error that says so.
at::Device resolve_device(const std::string& name);

}  // namespace lt
