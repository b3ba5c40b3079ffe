// State dicts in HDF5 groups: one dataset per tensor, named by its
// torchvision key with its dots (/backbone/layer1.0.conv1.weight), float32,
// integer tensors (BatchNorm's num_batches_tracked) as int64. This is the
// /backbone of model files, the --init format, and the optimizer state under
// /train_state. Used by lt-train and lt-extract.
#pragma once

#include "lt/io/h5.hpp"
#include "lt/learn/models.hpp"

#include <string>

namespace lt::weights {

// Every dataset directly in group (subgroups are skipped), in name order.
// Integer datasets become int64 tensors, the others float32.
models::StateDict read_state_dict(const h5::Group& group);

// One dataset per entry (copied to the CPU first); 0-d tensors are scalars.
void write_state_dict(h5::Group& group, const models::StateDict& entries);

// Loads the --init weights of a backbone: the datasets under /backbone when
// the file has that group (a model file, or an export that used it), else
// those at the root. torchvision's fc.* head is ignored; keys that match
// nothing are reported, not fatal. Throws SchemaError when no key matches
// (wrong architecture or not a weights file).
models::LoadReport load_init(models::Backbone& backbone, const std::string& path);

// Loads a state dict that must cover the module exactly (a model file or a
// checkpoint): a missing or unexpected key is a SchemaError naming where.
void load_exact(torch::nn::Module& module, const models::StateDict& entries, const std::string& where);

// A 64-bit FNV-1a digest, in hex, of the keys and tensor bytes: tells whether
// two files were computed with the same weights.
std::string fingerprint(const models::StateDict& entries);

// FNV-1a 64 of bytes, continued from state (start with kFnvOffset).
inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t state = kFnvOffset);

}  // namespace lt::weights
