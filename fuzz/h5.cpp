// Fuzzes one lt-h5 reader, chosen at compile time (LT_FUZZ_READER_<type>):
// the bytes are written to a file, opened as the tools open it and read the
// way the tools read it. Any outcome but values or an lt::Error is a finding.
#include "fuzz_file.hpp"

#include "lt/base/error.hpp"
#include "lt/io/schema.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace {

void expect_finite(const lt::Matrix& matrix) {
    if (matrix.rows < 0 || matrix.cols < 0 ||
        matrix.values.size() != static_cast<std::size_t>(matrix.rows * matrix.cols))
        std::abort();
    for (float value : matrix.values)
        if (!std::isfinite(value)) std::abort();  // readers promise finite values
}

void read(const std::string& path) {
#if defined(LT_FUZZ_READER_features)
    lt::FeaturesReader features(path);
    const lt::h5::InputFile& file = features.file();
    if (static_cast<std::int64_t>(features.labels().size()) != features.rows()) std::abort();
    std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(features.chunk_rows(), 64));
    std::vector<float> rows(static_cast<std::size_t>(chunk * features.dim()));
    for (std::int64_t first = 0; first < features.rows(); first += chunk)
        features.read(first, std::min(chunk, features.rows() - first), rows.data());
    lt::read_class_counts(file);
#elif defined(LT_FUZZ_READER_prototypes)
    lt::h5::InputFile file(path);
    file.check_type("prototypes");
    lt::Prototypes prototypes = lt::read_prototypes(file);
    expect_finite(prototypes.prototypes);
    if (prototypes.class_ids.size() != static_cast<std::size_t>(prototypes.prototypes.rows)) std::abort();
#elif defined(LT_FUZZ_READER_classifier) || defined(LT_FUZZ_READER_ensemble)
    // read_classifier_set takes every classifier-like type; the seeds decide
    // which layout a target mostly explores.
    lt::h5::InputFile file(path);
    lt::ClassifierSet set = lt::read_classifier_set(file);
    if (set.members.empty()) std::abort();
    for (const lt::Classifier& member : set.members) {
        expect_finite(member.weights);
        if (member.class_ids.size() != static_cast<std::size_t>(member.weights.rows)) std::abort();
    }
    lt::read_class_counts(file);
#else
#error "define LT_FUZZ_READER_<features|classifier|prototypes|ensemble>"
#endif
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // as the tools do
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lt::fuzz::write_input(data, size);
    try {
        read(path);
    } catch (const lt::Error&) {
    }
    // Every handle lt opened must be closed again, on errors too.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) std::abort();
    return 0;
}
