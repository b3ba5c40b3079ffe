// The model file: what lt-train writes after every epoch (it is also the
// checkpoint --resume continues) and what lt-extract and the classifier
// readers take. The layout is man/lt-h5.5's "model"; its group and attribute
// names are in lt/io/model_layout.hpp, shared with the io readers.
#pragma once

#include "lt/io/h5.hpp"
#include "lt/learn/models.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace lt::model_file {

// A root attribute that records a training option; --resume compares the
// file's value with the run's.
struct Setting {
    std::string name;
    std::variant<std::string, std::int64_t, double> value;

    std::string text() const;
    void write(h5::Group& group) const;
    // The file's value, as text() would write it; throws SchemaError when absent.
    std::string stored_text(const h5::Group& group) const;
};

// /train_state: where the run stands, and how the job that wrote it ran.
struct TrainState {
    std::int64_t epoch = 0;  // epochs finished
    std::int64_t step = 0;   // optimizer steps done
    models::StateDict momentum;
    std::int64_t world_size = 1;     // processes of the data-parallel job
    std::int64_t micro_batches = 1;  // per step and process
    bool sync_bn = false;            // BatchNorm statistics over all processes
    std::int64_t batch_norm_batch = 0;  // images per BatchNorm batch
};

// A classifier's model (model) or a contrastive one (contrastive, lt-train
// --loss simclr: /projection instead of /classifier).
struct Checkpoint {
    const models::Model* model = nullptr;
    const models::ContrastiveModel* contrastive = nullptr;
    std::vector<std::int64_t> class_ids, class_counts;  // the classifier's rows
    std::vector<Setting> attributes;                     // root attributes
    TrainState state;
};

// Writes the whole file atomically (a complete file or the previous one).
void write(const std::string& path, const Checkpoint& checkpoint);

// Opens a model file, checking its lt_type.
std::unique_ptr<h5::InputFile> open(const std::string& path);

bool has_train_state(const h5::Group& file);
// The weights of the file into model, whose classifier must have the rows
// of class_ids; missing or extra weights are a SchemaError.
void read_weights(const h5::Group& file, models::Model& model, const std::vector<std::int64_t>& class_ids);
TrainState read_train_state(const h5::Group& file);
// The weights of a contrastive model file (backbone and projection head).
void read_weights(const h5::Group& file, models::ContrastiveModel& model);

// The backbone of a model file, with the eval transform it was trained with.
struct TrainedBackbone {
    std::shared_ptr<models::Backbone> backbone;
    std::string preset;  // empty when the file does not record it
    int image_size = 0;  // 0 likewise
};
TrainedBackbone read_backbone(const std::string& path);

}  // namespace lt::model_file
