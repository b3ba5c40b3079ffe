#include "lt/analysis/project.hpp"

#include "lt/analysis/compat.hpp"
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"
#include "lt/base/random.hpp"
#include "lt/base/table_text.hpp"
#include "lt/io/lists.hpp"
#include "lt/math/backend.hpp"
#include "lt/math/blas.hpp"
#include "lt/transfer/attend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace lt::project {

namespace {

void append_unit_row(Matrix& rows, const float* row) {
    double norm = 0;
    for (std::int64_t d = 0; d < rows.cols; ++d) norm += double(row[d]) * row[d];
    norm = std::max(std::sqrt(norm), 1e-12);
    for (std::int64_t d = 0; d < rows.cols; ++d) rows.values.push_back(static_cast<float>(row[d] / norm));
    ++rows.rows;
}

}  // namespace

std::int64_t choose_class(const Classifier& classifier, const std::vector<std::int64_t>& sample_labels,
                          const Settings& settings) {
    if (settings.class_id) return *settings.class_id;
    std::set<std::int64_t> with_samples(sample_labels.begin(), sample_labels.end());
    std::vector<std::int64_t> few;
    std::int64_t rarest = -1, rarest_count = 0;
    for (std::size_t i = 0; i < classifier.class_ids.size(); ++i) {
        std::int64_t id = classifier.class_ids[i], n = classifier.class_counts[i];
        if (!with_samples.count(id)) continue;
        if (n < settings.few) few.push_back(id);
        if (rarest < 0 || n < rarest_count) rarest = id, rarest_count = n;
    }
    if (rarest < 0) throw Error("no classifier class has samples in the features");
    if (few.empty()) {
        log::warn("no few-shot class (n < {}) has samples; showing the rarest class, {}", settings.few, rarest);
        return rarest;
    }
    Rng rng = make_rng(settings.seed, {0x70726f6a});
    return few[uniform_index(rng, few.size())];
}

std::vector<double> pca2(const Matrix& rows, double explained[2]) {
    if (rows.rows < 2) throw Error("a projection needs at least two points");
    const std::int64_t n = rows.rows, d = rows.cols;
    std::vector<double> x(rows.values.begin(), rows.values.end());
    for (std::int64_t c = 0; c < d; ++c) {
        double mean = 0;
        for (std::int64_t r = 0; r < n; ++r) mean += x[r * d + c];
        mean /= static_cast<double>(n);
        for (std::int64_t r = 0; r < n; ++r) x[r * d + c] -= mean;
    }
    // The principal directions are the top eigenvectors of X^T X; with fewer
    // points than dimensions, those of the smaller X X^T give them as
    // v = X^T u / sigma.
    const bool by_points = n <= d;
    const std::int64_t order = by_points ? n : d;
    std::vector<double> gram(static_cast<std::size_t>(order * order)), values(static_cast<std::size_t>(order));
    if (by_points) {
        math::gemm_nt(n, n, d, x.data(), d, x.data(), d, gram.data(), n);
    } else {
        std::vector<double> xt(static_cast<std::size_t>(d * n));
        for (std::int64_t r = 0; r < n; ++r)
            for (std::int64_t c = 0; c < d; ++c) xt[c * n + r] = x[r * d + c];
        math::gemm_nt(d, d, n, xt.data(), n, xt.data(), n, gram.data(), d);
    }
    math::symmetric_eigen(order, gram.data(), values.data());
    double total = 0;
    for (auto value : values) total += std::max(value, 0.0);
    const int components = static_cast<int>(std::min<std::int64_t>(2, order));
    std::vector<double> axes(static_cast<std::size_t>(2 * d), 0.0);  // 2 x d, zero past the components
    for (int c = 0; c < components; ++c) {
        const std::int64_t index = order - 1 - c;  // eigenvalues come in increasing order
        const double variance = std::max(values[static_cast<std::size_t>(index)], 0.0);
        explained[c] = total > 0 ? variance / total : 0.0;
        double* axis = axes.data() + c * d;
        const double* vector = gram.data() + index * order;
        if (by_points) {
            const double sigma = std::sqrt(variance);
            if (sigma > 0)
                for (std::int64_t r = 0; r < n; ++r)
                    for (std::int64_t k = 0; k < d; ++k) axis[k] += x[r * d + k] * vector[r] / sigma;
        } else {
            std::copy(vector, vector + d, axis);
        }
        // sign: each component's largest loading is positive (deterministic output)
        std::int64_t largest = 0;
        for (std::int64_t k = 1; k < d; ++k)
            if (std::abs(axis[k]) > std::abs(axis[largest])) largest = k;
        if (axis[largest] < 0)
            for (std::int64_t k = 0; k < d; ++k) axis[k] = -axis[k];
    }
    for (int c = components; c < 2; ++c) explained[c] = 0.0;
    std::vector<double> projected(static_cast<std::size_t>(2 * n));
    math::gemm_nt(n, 2, d, x.data(), d, axes.data(), d, projected.data(), 2);
    return projected;
}

View compute(const FeaturesReader& features, const Classifier& classifier, const Prototypes& prototypes,
             const Classifier* final_classifier, const Settings& settings) {
    View view;
    const auto& labels = features.labels();
    const std::int64_t chosen = choose_class(classifier, labels, settings);
    const ClassIndex w_row(classifier.class_ids), p_row(prototypes.class_ids);
    if (!w_row.contains(chosen) || !p_row.contains(chosen))
        throw Error(fmt::format("class {} needs a classifier row and a prototype", chosen));
    view.classes.push_back(chosen);
    // One more than asked, as the class may be among its own sources.
    const std::int64_t asked = std::min(settings.neighbours, compat::source_count(classifier));
    for (const auto& n : compat::neighbours(classifier, prototypes, asked + 1, settings.tau, chosen))
        if (n.neighbour_id != chosen && static_cast<std::int64_t>(view.classes.size()) <= settings.neighbours)
            view.classes.push_back(n.neighbour_id);
    if (const auto shown = static_cast<std::int64_t>(view.classes.size()) - 1; shown < settings.neighbours)
        log::warn("class {} has only {} attention neighbour{}, {} asked (neighbours are the other classifier "
                  "classes with a training sample)",
                  chosen, shown, shown == 1 ? "" : "s", settings.neighbours);
    for (auto id : view.classes)
        if (!p_row.contains(id))
            throw Error(fmt::format("class {}, a neighbour of class {}, has a classifier row but no prototype", id,
                                    chosen),
                        "give prototypes of every class of the classifier");
    for (auto id : view.classes) view.counts.push_back(classifier.class_counts[static_cast<std::size_t>(w_row.row(id))]);
    Classifier built;
    if (!final_classifier) {
        // w^h(k) of the classes shown only.
        attend::Settings compose;
        compose.k = settings.k;
        compose.tau = settings.tau;
        built = attend::compose_rows(classifier, prototypes, compose, view.classes);
        final_classifier = &built;
    }
    const ClassIndex f_row(final_classifier->class_ids);
    std::string without_final;
    for (auto id : view.classes)
        if (!f_row.contains(id)) without_final += fmt::format("{}{}", without_final.empty() ? "" : ", ", id);
    if (!without_final.empty())
        log::warn("the final classifier has no row for class {}: no final point is shown for it", without_final);

    // Samples of each class (seeded subsample), in file order per class.
    Rng rng = make_rng(settings.seed, {0x73616d70});
    std::vector<std::vector<std::int64_t>> members(view.classes.size());
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot) {
        for (std::size_t r = 0; r < labels.size(); ++r)
            if (labels[r] == view.classes[slot]) members[slot].push_back(static_cast<std::int64_t>(r));
        if (static_cast<std::int64_t>(members[slot].size()) > settings.max_samples) {
            shuffle(members[slot], rng);
            members[slot].resize(static_cast<std::size_t>(settings.max_samples));
            std::sort(members[slot].begin(), members[slot].end());
        }
        if (members[slot].empty()) log::warn("class {} has no samples in the features", view.classes[slot]);
    }
    // The rows shown, read by streaming every block of the file once.
    std::map<std::int64_t, std::vector<float>> shown;
    for (const auto& rows_of_class : members)
        for (auto r : rows_of_class) shown[r];
    const std::int64_t dim = features.dim();
    const std::int64_t block = settings.block_rows > 0 ? settings.block_rows : features.chunk_rows();
    std::vector<float> buffer(static_cast<std::size_t>(std::min(block, features.rows()) * dim));
    for (std::int64_t first = 0; first < features.rows(); first += block) {
        const std::int64_t count = std::min(block, features.rows() - first);
        features.read(first, count, buffer.data());
        for (auto it = shown.lower_bound(first); it != shown.end() && it->first < first + count; ++it)
            it->second.assign(buffer.data() + (it->first - first) * dim, buffer.data() + (it->first - first + 1) * dim);
    }

    // Points: samples of each class, then per class its prototype,
    // classifier row and final row.
    Matrix rows(0, dim);
    std::vector<Point> points;
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot)
        for (auto r : members[slot]) {
            append_unit_row(rows, shown.at(r).data());
            points.push_back({"sample", static_cast<int>(slot), view.classes[slot]});
        }
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot) {
        std::int64_t id = view.classes[slot];
        append_unit_row(rows, prototypes.prototypes.row(p_row.row(id)));
        points.push_back({"prototype", static_cast<int>(slot), id});
        append_unit_row(rows, classifier.weights.row(w_row.row(id)));
        points.push_back({"classifier", static_cast<int>(slot), id});
        if (f_row.contains(id)) {
            append_unit_row(rows, final_classifier->weights.row(f_row.row(id)));
            points.push_back({"final", static_cast<int>(slot), id});
        }
    }
    std::vector<double> xy = pca2(rows, view.explained);
    for (std::size_t i = 0; i < points.size(); ++i) {
        points[i].x = xy[2 * i];
        points[i].y = xy[2 * i + 1];
    }
    view.points = std::move(points);
    return view;
}

void Options::add_to(CLI::App& app) {
    app.add_option("--features", features, "Features of the samples to show (e.g. validation); '-' = stdin (one input at most)")
        ->required()
        ->type_name("FEATS.h5");
    app.add_option("--classifier", classifier, "Learned classifier or model file")->required()->type_name("FILE");
    app.add_option("--protos", protos, "Prototypes file")->required()->type_name("FILE");
    app.add_option("--final", final_classifier, "Final (composed) classifier (default: w^h(k) built here)")
        ->type_name("FILE");
    app.add_option("-k", settings.k, "k of the w^h(k) built when --final is not given")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--class", settings.class_id, "Class to show (default: a seeded random few-shot class)")
        ->check(cli::NonNegative)
        ->type_name("ID");
    app.add_option("--neighbours", settings.neighbours, "Top attention neighbours shown with it")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--few", settings.few, "Few-shot classes have fewer than this many training samples")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--max-samples", settings.max_samples, "Samples shown per class (seeded subsample beyond)")
        ->check(cli::Positive)
        ->capture_default_str();
    app.add_option("--tau", settings.tau, "Attention temperature")->check(cli::NonNegative)->capture_default_str();
    app.add_option("--class-names", class_names, "classes.txt, for a class_name column")->type_name("FILE");
    app.add_option("--block-rows", settings.block_rows, "Feature rows read at a time (0 = about 32 MiB of them)")
        ->check(cli::NonNegative)
        ->type_name("N")
        ->capture_default_str();
    seed.add_to(app);
}

void run(const Options& options, const Compute& compute) {
    math::use(compute);
    cli::require_one_stdin_input({{"--features", options.features},
                                  {"--classifier", options.classifier},
                                  {"--protos", options.protos},
                                  {"--final", options.final_classifier}});
    FeaturesReader features(options.features);
    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "--classifier");
    h5::InputFile prototypes_file(options.protos);
    Prototypes prototypes = read_prototypes(prototypes_file);
    if (features.dim() != prototypes.prototypes.cols || features.dim() != classifier.weights.cols)
        throw Error(fmt::format("dimension mismatch: features {}, classifier {}, prototypes {}", features.dim(),
                                classifier.weights.cols, prototypes.prototypes.cols));
    Classifier final_classifier;
    std::string final_name;
    if (!options.final_classifier.empty()) {
        h5::InputFile final_file(options.final_classifier);
        final_classifier = read_single_classifier(final_file, "--final");
        final_name = final_file.file_name();
    } else {
        final_name = fmt::format("w^h({})", options.settings.k);
    }
    if (!options.final_classifier.empty() && final_classifier.weights.cols != features.dim())
        throw Error(fmt::format("dimension mismatch: features {}, --final {}", features.dim(),
                                final_classifier.weights.cols));
    Settings settings = options.settings;
    settings.seed = options.seed.seed;
    View view = project::compute(features, classifier, prototypes,
                                 options.final_classifier.empty() ? nullptr : &final_classifier, settings);

    std::vector<std::string> names;
    if (!options.class_names.empty()) names = read_classes(options.class_names);
    auto name_of = [&](std::int64_t id) {
        return id >= 0 && id < static_cast<std::int64_t>(names.size()) ? names[id] : std::to_string(id);
    };
    const GroupThresholds thresholds{GroupThresholds{}.many, settings.few};
    auto group_of = [&](std::int64_t n) { return group_name(thresholds.of(n)); };
    std::string classes;
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot)
        classes += fmt::format("{}{} ({}, n={})", slot ? ", " : "", name_of(view.classes[slot]),
                               group_of(view.counts[slot]), view.counts[slot]);
    std::string text = fmt::format("# classes: {}\n# final: {}\n# pca explained variance: {:.3f} {:.3f}\n",
                                   classes, final_name, view.explained[0], view.explained[1]);
    text += "kind\tslot\tclass_id\tclass_name\tgroup\tcount\tx\ty\n";
    for (const auto& p : view.points) {
        std::int64_t n = view.counts[static_cast<std::size_t>(p.slot)];
        text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{:.6f}\t{:.6f}\n", p.kind, p.slot, p.class_id,
                            tsv_field(name_of(p.class_id)), group_of(n), n,
                            p.x, p.y);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::project
