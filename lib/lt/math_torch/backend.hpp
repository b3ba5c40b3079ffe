// The math seam's backend over LibTorch (ATen): the products of the
// training-free core on a LibTorch device. Built for --device cuda; on the
// CPU device it is what the unit tests compare with the OpenBLAS backend.
#pragma once

#include "lt/math/backend.hpp"

#include <string>

namespace lt::math_torch {

// "cpu" or "cuda" (one backend per device, made on first use).
const math::Backend& backend(const std::string& device);

// Whether LibTorch has CUDA and sees a GPU.
bool cuda_available();

// Makes backend("cuda") the backend of --device cuda (math::provide_cuda).
void provide();

}  // namespace lt::math_torch
