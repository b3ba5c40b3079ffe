// Where and with how much a tool computes: resolved once from the command
// line by the tool runner (cli::run_tool: --threads, --device, --workers, and
// for the tools that run networks --amp, --no-tf32, --deterministic) and
// passed down to the code that computes, which applies it (the math backend
// sets its BLAS threads, training sets LibTorch's, loaders start `workers`
// decoding threads).
#pragma once

#include <string>

namespace lt {

struct Compute {
    int threads = 1;              // CPU threads for matrix work (>= 1)
    int workers = 1;              // image decoding threads (>= 1)
    std::string device = "auto";  // cpu | cuda | auto (cuda when this build and a GPU have it)
    // Networks only (lt-train, lt-extract: lt/learn/precision.hpp).
    std::string amp = "off";      // off | bf16 | fp16: autocast's lower precision
    bool tf32 = true;             // CUDA: TF32 in float32 matrix products and convolutions
    bool deterministic = false;   // CUDA: cuDNN's deterministic algorithms, no autotuning
};

}  // namespace lt
