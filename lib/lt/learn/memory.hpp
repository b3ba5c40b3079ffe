// LibTorch's CPU tensors in memory that is kept and reused. A network's
// forward and backward passes allocate and free the same large activations
// every batch; glibc gives blocks of that size back to the kernel at once
// (munmap) and the next batch faults fresh zeroed pages in again: on
// ResNet-50 at 224 px, half the CPU time went to the kernel. Freed blocks of
// 1 MiB and more are kept instead and handed out again to requests of about
// their size; the values computed are the same.
#pragma once

#include <cstddef>

namespace lt::memory {

// Installs the reusing allocator as LibTorch's CPU allocator (once per
// process; later calls do nothing).
void reuse_tensor_memory();

// Bytes held in kept blocks (in use or free), for tests and logs.
std::size_t held_bytes();

}  // namespace lt::memory
