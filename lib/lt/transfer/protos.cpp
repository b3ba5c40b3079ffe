#include "lt/transfer/protos.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace lt::protos {

void Options::add_to(CLI::App& app) {
    app.add_option("inputs", inputs,
                   "Features files (lt_type features; '-' = stdin), or prototypes files with --merge")
        ->required()
        ->expected(1, -1)
        ->type_name("FEATS.h5");
    app.add_flag("--merge", merge, "Merge prototypes files, weighted by their counts, instead");
    output.add_to(app, "Prototypes file to write ('-' = stdout)");
}

void Accumulator::check_dim(std::int64_t dim, const std::string& source) {
    if (sources_.empty()) {
        dim_ = dim;
        first_source_ = source;
    } else if (dim != dim_) {
        throw Error(fmt::format("{} has dimension {}, {} has {}", source, dim, first_source_, dim_),
                    "prototypes combine features of one backbone");
    }
    sources_.push_back(source);
}

void Accumulator::add_features(const FeaturesReader& features) {
    check_dim(features.dim(), features.file().file_name());
    const std::int64_t dim = features.dim(), chunk = features.chunk_rows();
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
            auto& sum = sums_[label];
            if (sum.empty()) sum.assign(dim, 0.0);
            for (std::int64_t d = 0; d < dim; ++d) sum[d] += row[d] / norm;
            ++counts_[label];
        }
        progress.advance(count);
    }
}

void Accumulator::add_prototypes(const Prototypes& prototypes, const std::string& source) {
    check_dim(prototypes.prototypes.cols, source);
    for (std::int64_t i = 0; i < prototypes.prototypes.rows; ++i) {
        const std::int64_t label = prototypes.class_ids[static_cast<std::size_t>(i)];
        const std::int64_t count = prototypes.counts[static_cast<std::size_t>(i)];
        std::int64_t& total = counts_[label];
        std::int64_t sum_of_counts = 0;
        if (__builtin_add_overflow(total, count, &sum_of_counts))
            throw Error(fmt::format("{}: class {} has count {}; with the {} merged before, that is more than a "
                                    "64-bit count holds",
                                    source, label, count, total));
        total = sum_of_counts;
        const auto weight = static_cast<double>(count);
        auto& sum = sums_[label];
        if (sum.empty()) sum.assign(dim_, 0.0);
        const float* row = prototypes.prototypes.row(i);
        for (std::int64_t d = 0; d < dim_; ++d) sum[d] += weight * row[d];
    }
}

Prototypes Accumulator::result() const {
    if (sums_.empty())
        throw Error(fmt::format("{} {} no labelled rows (every label is -1)", fmt::join(sources_, ", "),
                                sources_.size() == 1 ? "has" : "have"));
    Prototypes result;
    result.prototypes = Matrix(static_cast<std::int64_t>(sums_.size()), dim_);
    std::int64_t i = 0;
    for (const auto& [label, sum] : sums_) {
        const std::int64_t count = counts_.at(label);
        result.class_ids.push_back(label);
        result.counts.push_back(count);
        for (std::int64_t d = 0; d < dim_; ++d)
            result.prototypes.row(i)[d] = static_cast<float>(sum[static_cast<std::size_t>(d)] / static_cast<double>(count));
        ++i;
    }
    return result;
}

Prototypes compute(const FeaturesReader& features) {
    Accumulator accumulator;
    accumulator.add_features(features);
    return accumulator.result();
}

namespace {

// Runs read; a file of the other kind (prototypes without --merge, features
// with it) gets a hint about --merge.
template <class Read>
void read_with_hint(Read read, const char* other_type, const char* hint) {
    try {
        read();
    } catch (const SchemaError& error) {
        if (std::string(error.what()).find(fmt::format("is a '{}' file", other_type)) == std::string::npos) throw;
        throw SchemaError(error.what(), hint);
    }
}

}  // namespace

void run(const Options& options) {
    if (std::count(options.inputs.begin(), options.inputs.end(), "-") > 1)
        throw UsageError("standard input ('-') can be given once");
    Accumulator accumulator;
    std::int64_t rows = 0;
    for (const std::string& input : options.inputs) {
        if (options.merge) {
            read_with_hint(
                [&] {
                    const h5::InputFile in(input);
                    accumulator.add_prototypes(read_prototypes(in), in.file_name());
                },
                "features", "without --merge, lt-protos computes prototypes from features files");
        } else {
            read_with_hint(
                [&] {
                    const FeaturesReader features(input);
                    accumulator.add_features(features);
                    rows += features.rows();
                },
                "prototypes", "--merge combines prototypes files");
        }
    }
    const Prototypes prototypes = accumulator.result();
    std::int64_t averaged = 0;
    for (std::int64_t count : prototypes.counts) averaged += count;
    log::verbose("{} prototypes of dimension {} from {} {} ({} rows averaged)", prototypes.class_ids.size(),
                 prototypes.prototypes.cols, options.inputs.size(),
                 options.merge ? "prototypes files" : fmt::format("features files of {} rows", rows), averaged);
    h5::OutputFile out(options.output.path, "prototypes");
    write_prototypes(out, prototypes);
    out.commit();
}

}  // namespace lt::protos
