#include "lt/analysis/compat.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/table_text.hpp"
#include "lt/io/lists.hpp"
#include "lt/math/backend.hpp"
#include "lt/math/memory.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/scorer.hpp"
#include "lt/transfer/attend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

namespace lt::compat {

namespace {

const char* kBlockHint = "use a smaller --block-rows";
constexpr std::int64_t kScoreBytes = std::int64_t{64} << 20;

void check_dimensions(const Classifier& classifier, const Prototypes& prototypes) {
    if (classifier.weights.cols != prototypes.prototypes.cols)
        throw Error(fmt::format("dimension mismatch: the classifier has dimension {}, the prototypes {}",
                                classifier.weights.cols, prototypes.prototypes.cols));
}

std::int64_t block_rows(std::int64_t requested, std::int64_t columns) {
    if (requested > 0) return requested;
    return std::clamp<std::int64_t>(kScoreBytes / (4 * std::max<std::int64_t>(1, columns)), 256, 4096);
}

}  // namespace

std::int64_t source_count(const Classifier& classifier) {
    return std::count_if(classifier.class_counts.begin(), classifier.class_counts.end(),
                         [](std::int64_t n) { return n > 0; });
}

MismatchReport mismatches(const Classifier& classifier, const Prototypes& prototypes, std::int64_t block_rows_requested) {
    check_dimensions(classifier, prototypes);
    const std::int64_t dim = classifier.weights.cols, rows = prototypes.prototypes.rows;
    math::TopScorer scorer(classifier.weights.values.data(), classifier.weights.rows, dim, /*cosine=*/true, nullptr,
                           math::cpu_backend());
    const ClassIndex own(classifier.class_ids);
    const std::int64_t block = block_rows(block_rows_requested, classifier.weights.rows);
    std::vector<std::int64_t> own_columns;
    math::QueryBlock queries;
    math::TopResult result;
    math::TopRequest request;
    request.k = 1;
    request.label_values = true;
    MismatchReport report;
    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t count = std::min(block, rows - first);
        own_columns.resize(static_cast<std::size_t>(count));
        for (std::int64_t r = 0; r < count; ++r) own_columns[r] = own.row(prototypes.class_ids[first + r]);
        request.label_columns = own_columns.data();
        queries.assign(prototypes.prototypes.row(first), count, dim);
        scorer.top(queries, request, result);
        for (std::int64_t r = 0; r < count; ++r) {
            if (own_columns[r] < 0) continue;  // a new class: nothing to compare with
            ++report.compared;
            // The first maximum; a tie with the own row counts as a match.
            if (result.label_value[r] < result.values[r])
                report.mismatches.push_back({prototypes.class_ids[first + r], classifier.class_ids[result.columns[r]]});
        }
    }
    if (report.compared == 0) throw Error("the classifier and the prototypes have no class in common");
    return report;
}

std::vector<double> sharpness(const Classifier& classifier, const Prototypes& prototypes, std::int64_t block_rows_requested) {
    check_dimensions(classifier, prototypes);
    const std::int64_t dim = classifier.weights.cols, rows = prototypes.prototypes.rows;
    const std::int64_t columns = classifier.weights.rows;
    std::vector<float> weights(classifier.weights.values), queries;
    math::normalize_rows(weights.data(), columns, dim);
    const auto operand = math::cpu_backend().keep(weights.data(), columns, dim);
    const std::int64_t block = block_rows(block_rows_requested, columns);
    std::vector<float> scores;
    math::allocate(scores, static_cast<std::size_t>(std::min(block, rows) * columns), "a block of cosines", kBlockHint);
    std::vector<double> sums(static_cast<std::size_t>(columns), 0.0);
    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t count = std::min(block, rows - first);
        queries.assign(prototypes.prototypes.row(first), prototypes.prototypes.row(first) + count * dim);
        math::normalize_rows(queries.data(), count, dim);
        math::cpu_backend().multiply_transposed(queries.data(), count, *operand, scores.data());
        math::parallel_for(count, 4, [&](std::int64_t begin, std::int64_t end) {
            std::vector<std::uint32_t> scratch;
            for (std::int64_t r = begin; r < end; ++r) math::sort_decreasing(scores.data() + r * columns, columns, scratch);
        });
        // Each rank summed in row order, whatever the threads: the same curve every time.
        math::parallel_for(columns, 256, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t r = 0; r < count; ++r) {
                const float* row = scores.data() + r * columns;
                for (std::int64_t j = begin; j < end; ++j) sums[j] += row[j];
            }
        });
    }
    for (auto& sum : sums) sum /= static_cast<double>(rows);
    return sums;
}

std::vector<Neighbour> neighbours(const Classifier& classifier, const Prototypes& prototypes, std::int64_t count,
                                  double tau, std::optional<std::int64_t> only_class, std::int64_t block_rows) {
    check_dimensions(classifier, prototypes);
    if (only_class && !ClassIndex(prototypes.class_ids).contains(*only_class))
        throw Error(fmt::format("--class {}: the prototypes have no such class", *only_class));
    // The sources are the classifier rows of classes with a training sample;
    // said here, since lt-compat has no -k to name in attend's message.
    if (source_count(classifier) == 0)
        throw Error("--neighbours: no classifier class has a training sample (its class_counts are all 0), so "
                    "attention has no source class",
                    "give the classifier's training counts (lt-h5(5), /class_counts)");
    attend::Settings settings;
    settings.k = 0;  // every class with a training sample is a source (Fig. 3)
    settings.tau = tau;
    settings.mode = "p2w";
    std::vector<Neighbour> result;
    const std::vector<std::int64_t> only = only_class ? std::vector<std::int64_t>{*only_class} : std::vector<std::int64_t>{};
    attend::top_attention(
        classifier, prototypes, settings, count,
        [&](const attend::Neighbours& found) {
            for (std::size_t r = 0; r < found.source_ids.size(); ++r)
                result.push_back({found.query_id, static_cast<std::int64_t>(r) + 1, found.source_ids[r], found.weights[r]});
        },
        only_class ? &only : nullptr, block_rows);
    return result;
}

void Options::add_to(CLI::App& app) {
    app.add_option("--classifier", classifier, "Classifier or model file ('-' = stdin)")
        ->required()
        ->type_name("FILE");
    app.add_option("--protos", protos, "Prototypes file ('-' = stdin)")->required()->type_name("FILE");
    app.add_flag("--mismatch", mismatch, "Count classes whose prototype is closest to another class's classifier");
    app.add_flag("--sharpness", sharpness, "Mean sorted cosine similarity of prototypes to classifier rows, by rank");
    app.add_option("--neighbours", neighbours, "For each class, the N classes with the highest p->w attention (k = 0)")
        ->check(cli::Positive)
        ->type_name("N");
    app.add_option("--class", class_id, "With --neighbours: only this class id")->check(cli::NonNegative);
    app.add_option("--class-names", class_names, "classes.txt (one name per class id) for --neighbours")
        ->type_name("FILE");
    app.add_option("--tau", tau, "Attention temperature for --neighbours")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--block-rows", block_rows, "Prototypes compared at a time (0 = as many as 64 MiB of scores hold)")
        ->check(cli::NonNegative)
        ->type_name("N")
        ->capture_default_str();
}

void run(const Options& options, const Compute& compute) {
    math::use(compute);
    if (!options.mismatch && !options.sharpness && options.neighbours == 0)
        throw UsageError("nothing to do: give --mismatch, --sharpness and/or --neighbours N");
    if (options.class_id && options.neighbours == 0) throw UsageError("--class needs --neighbours N");
    cli::require_one_stdin_input({{"--classifier", options.classifier}, {"--protos", options.protos}});
    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "lt-compat");
    h5::InputFile prototypes_file(options.protos);
    Prototypes prototypes = read_prototypes(prototypes_file);
    std::vector<std::string> names;
    if (!options.class_names.empty()) names = read_classes(options.class_names);
    auto name_of = [&](std::int64_t id) {
        return id < static_cast<std::int64_t>(names.size()) ? tsv_field(names[id]) : std::string("?");
    };

    // Compute everything before printing, so a failure prints nothing.
    std::string text;
    if (options.mismatch) {
        MismatchReport report = mismatches(classifier, prototypes, options.block_rows);
        text += fmt::format("mismatches\t{}\t{}\n", report.mismatches.size(), report.compared);
        text += names.empty() ? "class_id\tclosest_class_id\n" : "class_id\tclosest_class_id\tclass_name\tclosest_name\n";
        for (const auto& m : report.mismatches)
            text += names.empty() ? fmt::format("{}\t{}\n", m.class_id, m.closest_class_id)
                                  : fmt::format("{}\t{}\t{}\t{}\n", m.class_id, m.closest_class_id,
                                                name_of(m.class_id), name_of(m.closest_class_id));
    }
    if (options.sharpness) {
        text += "rank\tmean_cosine\n";
        auto curve = sharpness(classifier, prototypes, options.block_rows);
        for (std::size_t r = 0; r < curve.size(); ++r) text += fmt::format("{}\t{}\n", r + 1, curve[r]);
    }
    if (options.neighbours > 0) {
        if (const std::int64_t sources = source_count(classifier); sources > 0 && options.neighbours > sources)
            log::warn("--neighbours {}: only {} classifier class{} have a training sample; listing {} per class",
                      options.neighbours, sources, sources == 1 ? "" : "es", sources);
        text += names.empty() ? "class_id\trank\tneighbour_id\tscore\n"
                              : "class_id\trank\tneighbour_id\tscore\tclass_name\tneighbour_name\n";
        for (const auto& n :
             neighbours(classifier, prototypes, options.neighbours, options.tau, options.class_id, options.block_rows))
            text += names.empty() ? fmt::format("{}\t{}\t{}\t{}\n", n.class_id, n.rank, n.neighbour_id, n.score)
                                  : fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", n.class_id, n.rank, n.neighbour_id,
                                                n.score, name_of(n.class_id), name_of(n.neighbour_id));
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::compat
