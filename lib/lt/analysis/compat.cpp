#include "lt/analysis/compat.hpp"

#include "lt/base/error.hpp"
#include "lt/io/lists.hpp"
#include "lt/math/tensor.hpp"
#include "lt/transfer/attend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

namespace lt::compat {

namespace {

void check_dimensions(const Classifier& classifier, const Prototypes& prototypes) {
    if (classifier.weights.cols != prototypes.prototypes.cols)
        throw Error(fmt::format("dimension mismatch: the classifier has dimension {}, the prototypes {}",
                                classifier.weights.cols, prototypes.prototypes.cols));
}

// cos(p_i, w_j) for every prototype row i and classifier row j, in double.
at::Tensor cosines(const Classifier& classifier, const Prototypes& prototypes) {
    check_dimensions(classifier, prototypes);
    return at::mm(normalize_rows(to_tensor(prototypes.prototypes, at::kDouble)),
                  normalize_rows(to_tensor(classifier.weights, at::kDouble)).t())
        .contiguous();
}

}  // namespace

MismatchReport mismatches(const Classifier& classifier, const Prototypes& prototypes) {
    at::Tensor similarity = cosines(classifier, prototypes);
    std::map<std::int64_t, std::int64_t> w_row;
    for (std::size_t j = 0; j < classifier.class_ids.size(); ++j) w_row[classifier.class_ids[j]] = j;
    const double* values = similarity.data_ptr<double>();
    const std::int64_t columns = similarity.size(1);
    MismatchReport report;
    for (std::size_t i = 0; i < prototypes.class_ids.size(); ++i) {
        auto own = w_row.find(prototypes.class_ids[i]);
        if (own == w_row.end()) continue;  // a new class: nothing to compare with
        ++report.compared;
        const double* row = values + i * columns;
        std::int64_t best = std::max_element(row, row + columns) - row;
        if (row[own->second] < row[best])
            report.mismatches.push_back({prototypes.class_ids[i], classifier.class_ids[best]});
    }
    if (report.compared == 0) throw Error("the classifier and the prototypes have no class in common");
    return report;
}

std::vector<double> sharpness(const Classifier& classifier, const Prototypes& prototypes) {
    at::Tensor sorted = std::get<0>(cosines(classifier, prototypes).sort(1, /*descending=*/true));
    at::Tensor mean = sorted.mean(0).contiguous();
    return std::vector<double>(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
}

std::vector<Neighbour> neighbours(const Classifier& classifier, const Prototypes& prototypes, std::int64_t count,
                                  double tau, std::optional<std::int64_t> only_class) {
    check_dimensions(classifier, prototypes);
    attend::Settings settings;
    settings.k = 0;  // every class is a source (Fig. 3)
    settings.tau = tau;
    settings.mode = "p2w";
    attend::Attention attention = attend::attention(classifier, prototypes, settings);
    const std::size_t sources = attention.source_ids.size();
    std::vector<Neighbour> result;
    bool found = false;
    for (std::size_t q = 0; q < attention.query_ids.size(); ++q) {
        if (only_class && attention.query_ids[q] != *only_class) continue;
        found = true;
        const double* row = attention.weights.data() + q * sources;
        std::vector<std::size_t> order(sources);
        std::iota(order.begin(), order.end(), 0);
        // Highest weight first; equal weights by class id, for stable output.
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return row[a] > row[b]; });
        for (std::int64_t r = 0; r < std::min<std::int64_t>(count, sources); ++r)
            result.push_back({attention.query_ids[q], r + 1, attention.source_ids[order[r]], row[order[r]]});
    }
    if (only_class && !found)
        throw Error(fmt::format("--class {}: the prototypes have no such class", *only_class));
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
}

void run(const Options& options, const Compute& compute) {
    use_threads(compute.threads);
    if (!options.mismatch && !options.sharpness && options.neighbours == 0)
        throw UsageError("nothing to do: give --mismatch, --sharpness and/or --neighbours N");
    if (options.class_id && options.neighbours == 0) throw UsageError("--class needs --neighbours N");
    if (options.classifier == "-" && options.protos == "-")
        throw UsageError("--classifier and --protos cannot both be read from stdin");
    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "lt-compat");
    h5::InputFile prototypes_file(options.protos);
    Prototypes prototypes = read_prototypes(prototypes_file);
    std::vector<std::string> names;
    if (!options.class_names.empty()) names = read_classes(options.class_names);
    auto name_of = [&](std::int64_t id) {
        return id < static_cast<std::int64_t>(names.size()) ? names[id] : std::string("?");
    };

    // Compute everything before printing, so a failure prints nothing.
    std::string text;
    if (options.mismatch) {
        MismatchReport report = mismatches(classifier, prototypes);
        text += fmt::format("mismatches\t{}\t{}\n", report.mismatches.size(), report.compared);
        text += names.empty() ? "class_id\tclosest_class_id\n" : "class_id\tclosest_class_id\tclass_name\tclosest_name\n";
        for (const auto& m : report.mismatches)
            text += names.empty() ? fmt::format("{}\t{}\n", m.class_id, m.closest_class_id)
                                  : fmt::format("{}\t{}\t{}\t{}\n", m.class_id, m.closest_class_id,
                                                name_of(m.class_id), name_of(m.closest_class_id));
    }
    if (options.sharpness) {
        text += "rank\tmean_cosine\n";
        auto curve = sharpness(classifier, prototypes);
        for (std::size_t r = 0; r < curve.size(); ++r) text += fmt::format("{}\t{}\n", r + 1, curve[r]);
    }
    if (options.neighbours > 0) {
        text += names.empty() ? "class_id\trank\tneighbour_id\tscore\n"
                              : "class_id\trank\tneighbour_id\tscore\tclass_name\tneighbour_name\n";
        for (const auto& n : neighbours(classifier, prototypes, options.neighbours, options.tau, options.class_id))
            text += names.empty() ? fmt::format("{}\t{}\t{}\t{}\n", n.class_id, n.rank, n.neighbour_id, n.score)
                                  : fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", n.class_id, n.rank, n.neighbour_id,
                                                n.score, name_of(n.class_id), name_of(n.neighbour_id));
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::compat
