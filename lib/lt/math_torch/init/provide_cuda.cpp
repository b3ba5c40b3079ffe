// Linked into lt-attend and lt-eval by a build with LT_TORCH_BACKEND: makes
// the LibTorch backend serve --device cuda (and auto, when a GPU is visible).
#include "lt/math_torch/backend.hpp"

namespace {
const bool provided = (lt::math_torch::provide(), true);
}  // namespace
