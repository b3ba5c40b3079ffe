// Precompiled header of the learn wing: LibTorch's headers, which every
// module of the wing includes and which dominate its compile time.
#pragma once
#include <ATen/ATen.h>
#include <torch/torch.h>
#include <fmt/format.h>
#include <string>
#include <vector>
