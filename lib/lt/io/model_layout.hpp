// The names of the model file's layout (lt_type "model", man/lt-h5.5), in
// one place for its writer (lt-train, lt/learn/model_file.hpp) and its
// readers (lt-extract's backbone, the classifier readers of lt/io/schema.hpp).
//
//   /                 lt_type "model"; arch, epoch, epochs, preset, image_size,
//                     the training options (lt-train's run settings), train_list,
//                     root, val_list and init when given
//   /backbone/<key>   one dataset per torchvision state-dict key
//   /classifier       laid out as a classifier file's root
//   /projection/<key> instead of /classifier in a contrastive model (loss
//                     "simclr"): the projection head's state dict (0.*, 2.*)
//   /train_state      attributes epoch, step, and how the job ran: world_size,
//                     micro_batches, sync_bn, batch_norm_batch
//   /train_state/momentum/<parameter>   SGD momentum, keyed backbone.* / classifier.* (or projection.*)
#pragma once

namespace lt::model_layout {

inline constexpr const char* kType = "model";

// Groups.
inline constexpr const char* kBackbone = "backbone";
inline constexpr const char* kClassifier = "classifier";
inline constexpr const char* kProjection = "projection";
inline constexpr const char* kTrainState = "train_state";
inline constexpr const char* kMomentum = "momentum";  // in /train_state

// Root attributes read back by other tools.
inline constexpr const char* kArch = "arch";
inline constexpr const char* kPreset = "preset";
inline constexpr const char* kImageSize = "image_size";
inline constexpr const char* kEpoch = "epoch";    // epochs finished
inline constexpr const char* kEpochs = "epochs";  // epochs asked for
inline constexpr const char* kTrainList = "train_list";
inline constexpr const char* kRoot = "root";
inline constexpr const char* kValList = "val_list";
inline constexpr const char* kInit = "init";

// /train_state attributes.
inline constexpr const char* kStateEpoch = "epoch";
inline constexpr const char* kStateStep = "step";
inline constexpr const char* kStateRandomness = "randomness";
inline constexpr const char* kWorldSize = "world_size";        // processes of the job that wrote it
inline constexpr const char* kMicroBatches = "micro_batches";  // per step and process
inline constexpr const char* kSyncBatchNorm = "sync_bn";       // 1: statistics over all processes
inline constexpr const char* kBatchNormBatch = "batch_norm_batch";  // images per BatchNorm batch

}  // namespace lt::model_layout
