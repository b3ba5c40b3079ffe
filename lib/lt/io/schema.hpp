// The typed lt-h5 objects (man/lt-h5.5): features, prototypes, classifiers,
// ensembles, and the /classifier group of model files. Readers validate
// shapes, alignment, duplicate class ids and finiteness, so the numerical
// modules can trust what they get. LibTorch-free.
#pragma once

#include "lt/io/h5.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lt {

// A dense row-major float matrix.
struct Matrix {
    std::int64_t rows = 0, cols = 0;
    std::vector<float> values;

    Matrix() = default;
    Matrix(std::int64_t rows_, std::int64_t cols_)
        : rows(rows_), cols(cols_), values(static_cast<std::size_t>(rows_ * cols_), 0.0f) {}
    float* row(std::int64_t i) { return values.data() + i * cols; }
    const float* row(std::int64_t i) const { return values.data() + i * cols; }
};

struct Prototypes {
    Matrix prototypes;                  // [C, D], Eq. 3, not re-normalised
    std::vector<std::int64_t> class_ids;
    std::vector<std::int64_t> counts;   // rows averaged per class
};

// Scale of a classifier that carries none (a prototypes file used as
// weights): the cosine classifier's initial scale.
inline constexpr double kDefaultScale = 16.0;

// Version of the classifier object (attribute "version" of its group; 1 when
// absent). Version 2 lets a cosine classifier carry per-class scales and a
// bias (tau-normalisation, logit adjustment, LWS); readers refuse newer ones.
inline constexpr std::int64_t kClassifierVersion = 2;

struct Classifier {
    std::string kind = "cosine";        // cosine | linear
    double scale = kDefaultScale;       // s in logit = s * g_j * cos(f, w_j) + b_j (cosine only)
    Matrix weights;                     // [C, D]
    std::vector<float> bias;            // [C]: b_j; linear always, cosine optional (empty = 0)
    std::vector<float> class_scales;    // [C]: g_j, cosine only, optional (empty = 1)
    std::vector<std::int64_t> class_ids;
    std::vector<std::int64_t> class_counts;  // TRAINING samples per class
    // Attributes of composed classifiers (mode, k, tau, terms), kept as text.
    std::map<std::string, std::string> composition;
    // Attributes of adjusted or retrained classifiers (method, tau_norm,
    // logit_adjust, ...), kept as text, as composition.
    std::map<std::string, std::string> adjustment;

    // A cosine classifier with per-class scales or a bias (version 2).
    bool extended() const { return kind == "cosine" && (!bias.empty() || !class_scales.empty()); }
};

// Rows of a table (a classifier, prototypes, the columns of scores) by class
// id. Class ids are global labels: files are matched by id, never by
// position, and this is the one place that does it.
class ClassIndex {
public:
    static constexpr std::int64_t kNone = -1;
    ClassIndex() = default;
    explicit ClassIndex(std::vector<std::int64_t> class_ids);  // unique (the readers check)
    const std::vector<std::int64_t>& ids() const { return ids_; }
    std::size_t size() const { return ids_.size(); }
    std::int64_t row(std::int64_t id) const;  // kNone when the table has no row for id
    bool contains(std::int64_t id) const { return row(id) != kNone; }
    std::vector<std::int64_t> rows(const std::vector<std::int64_t>& ids) const;  // kNone where absent
    // The first of ids that has no row here.
    std::optional<std::int64_t> first_missing(const std::vector<std::int64_t>& ids) const;
    bool same_ids(const ClassIndex& other) const;  // the same set of ids, in any order

private:
    std::vector<std::int64_t> ids_;
    std::vector<std::int64_t> dense_;  // row of id, for ids in [0, dense_.size())
    std::map<std::int64_t, std::int64_t> sparse_;  // when the ids are too spread out for dense_
};

// Class ids of either table, or of both, in increasing order.
std::vector<std::int64_t> union_ids(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);
std::vector<std::int64_t> common_ids(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// An ensemble has >= 2 members; a single classifier is an ensemble of one.
struct ClassifierSet {
    std::string source;  // file name, for messages
    std::vector<Classifier> members;
};

// ---- features: streamed by rows, labels read at open

// What FeaturesReader checks when it opens a file: /features is [N, D] with
// N, D > 0, /labels has N class ids or -1 ([N] or [N, 1]), /ids (optional)
// names N rows.
struct FeaturesHeader {
    std::int64_t rows = 0, dim = 0;
    std::vector<std::int64_t> labels;
};
FeaturesHeader read_features_header(const h5::InputFile& in);

class FeaturesReader {
public:
    explicit FeaturesReader(const std::string& path);  // "-" = stdin
    std::int64_t rows() const { return rows_; }
    std::int64_t dim() const { return dim_; }
    const std::vector<std::int64_t>& labels() const { return labels_; }
    const h5::InputFile& file() const { return file_; }
    // Reads rows [first, first+count) into out; checks they are finite.
    void read(std::int64_t first, std::int64_t count, float* out) const;
    // Rows per chunk for streaming: about 32 MiB of features.
    std::int64_t chunk_rows() const;

private:
    h5::InputFile file_;
    std::int64_t rows_ = 0, dim_ = 0;
    std::vector<std::int64_t> labels_;
};

// Streaming writer of a features file (lt-extract): rows are appended.
class FeaturesWriter {
public:
    FeaturesWriter(h5::OutputFile& out, std::int64_t dim, bool with_ids, const std::string& split);
    void append(const float* features, const std::int64_t* labels, std::int64_t count,
                const std::vector<std::string>& ids = {});

private:
    h5::OutputFile& out_;
    std::int64_t dim_;
    bool with_ids_;
};

void write_features(h5::OutputFile& out, const Matrix& features, const std::vector<std::int64_t>& labels,
                    const std::vector<std::string>& ids = {}, const std::string& split = "");

Prototypes read_prototypes(const h5::InputFile& in);
void write_prototypes(h5::OutputFile& out, const Prototypes& prototypes);

// A classifier laid out in a group (file root, /classifier of a model, or an
// ensemble member).
Classifier read_classifier_group(const h5::Group& group);
void write_classifier_group(h5::Group& group, const Classifier& classifier);

// Any "classifier" argument: classifier, ensemble (flattened), prototypes
// (used as cosine weights) or model (its /classifier group).
ClassifierSet read_classifier_set(const h5::InputFile& in);
// The same, for tools that take exactly one classifier (lt-attend, lt-compat,
// lt-project): an ensemble is refused, saying what `purpose` needs.
Classifier read_single_classifier(const h5::InputFile& in, const std::string& purpose);
void write_ensemble(h5::OutputFile& out, const std::vector<Classifier>& members);
// Members of one ensemble (names[m] says where member m comes from): the
// same dimension, the same class ids and the same training counts, which
// define k and the shot groups (were they to differ, the groups would follow
// whichever member came first).
void check_members_agree(const std::vector<Classifier>& members, const std::vector<std::string>& names);

// A classifier written by row blocks (lt-attend's sweeps: no output is held
// whole): the weights are appended, then finish() writes the class ids,
// counts and attributes. Rows are checked finite as they come.
class ClassifierWriter {
public:
    ClassifierWriter(h5::Group& group, std::int64_t dim, std::int64_t expected_rows);
    void append(const float* rows, std::int64_t count);
    // classifier.weights is ignored: the rows were appended.
    void finish(const Classifier& classifier);

private:
    h5::Group& group_;
    std::int64_t dim_, rows_ = 0;
};

// Class counts from any file that has them: prototypes (/counts), classifier,
// ensemble or model (/class_counts), features (label histogram: the header
// is checked as FeaturesReader checks it; the rows are not read).
std::map<std::int64_t, std::int64_t> read_class_counts(const h5::InputFile& in);

// Checks shared by readers (exposed for tests).
void check_unique_class_ids(const std::vector<std::int64_t>& class_ids, const std::string& where);
void check_finite(const float* values, std::size_t count, const std::string& where);

}  // namespace lt
