#include "lt/transfer/protos.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"

#include <cmath>
#include <map>

namespace lt::protos {

void Options::add_to(CLI::App& app) {
    app.add_option("features", features, "Features file (lt_type features; '-' = stdin)")
        ->required()
        ->type_name("FEATS.h5");
    output.add_to(app, "Prototypes file to write ('-' = stdout)");
}

Prototypes compute(const FeaturesReader& features) {
    const std::int64_t dim = features.dim(), chunk = features.chunk_rows();
    // Sums in double: the mean of 100k unit vectors in float32 drifts.
    std::map<std::int64_t, std::vector<double>> sums;
    std::map<std::int64_t, std::int64_t> counts;
    std::vector<float> rows(static_cast<std::size_t>(chunk * dim));
    Progress progress("prototypes", features.rows(), "rows");
    for (std::int64_t first = 0; first < features.rows(); first += chunk) {
        std::int64_t count = std::min(chunk, features.rows() - first);
        features.read(first, count, rows.data());
        for (std::int64_t r = 0; r < count; ++r) {
            std::int64_t label = features.labels()[first + r];
            if (label < 0) continue;  // unknown label
            const float* row = rows.data() + r * dim;
            double norm = 0;
            for (std::int64_t d = 0; d < dim; ++d) norm += double(row[d]) * row[d];
            norm = std::max(std::sqrt(norm), 1e-12);  // a zero feature adds a zero vector
            auto& sum = sums[label];
            if (sum.empty()) sum.assign(dim, 0.0);
            for (std::int64_t d = 0; d < dim; ++d) sum[d] += row[d] / norm;
            ++counts[label];
        }
        progress.advance(count);
    }
    if (sums.empty()) throw Error(features.file().file_name() + " has no labelled rows (every label is -1)");
    Prototypes result;
    result.prototypes = Matrix(static_cast<std::int64_t>(sums.size()), dim);
    std::int64_t i = 0;
    for (const auto& [label, sum] : sums) {
        result.class_ids.push_back(label);
        result.counts.push_back(counts[label]);
        for (std::int64_t d = 0; d < dim; ++d)
            result.prototypes.row(i)[d] = static_cast<float>(sum[d] / static_cast<double>(counts[label]));
        ++i;
    }
    return result;
}

void run(const Options& options) {
    FeaturesReader features(options.features);
    Prototypes prototypes = compute(features);
    log::verbose("{} prototypes of dimension {} from {} rows", prototypes.class_ids.size(), features.dim(),
                 features.rows());
    h5::OutputFile out(options.output.path, "prototypes");
    write_prototypes(out, prototypes);
    out.commit();
}

}  // namespace lt::protos
