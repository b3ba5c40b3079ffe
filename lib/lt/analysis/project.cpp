#include "lt/analysis/project.hpp"

#include "lt/analysis/compat.hpp"
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"
#include "lt/base/random.hpp"
#include "lt/io/lists.hpp"
#include "lt/math/tensor.hpp"
#include "lt/transfer/attend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace lt::project {

namespace {

std::map<std::int64_t, std::int64_t> row_of(const std::vector<std::int64_t>& class_ids) {
    std::map<std::int64_t, std::int64_t> rows;
    for (std::size_t i = 0; i < class_ids.size(); ++i) rows[class_ids[i]] = static_cast<std::int64_t>(i);
    return rows;
}

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
    at::Tensor x = to_tensor(rows, at::kDouble);
    x = x - x.mean(0, /*keepdim=*/true);
    auto [u, s, vh] = at::linalg_svd(x, /*full_matrices=*/false);
    at::Tensor components = vh.narrow(0, 0, std::min<std::int64_t>(2, vh.size(0))).clone();
    // sign: each component's largest loading is positive (deterministic output)
    for (std::int64_t c = 0; c < components.size(0); ++c) {
        at::Tensor row = components[c];
        if (row[row.abs().argmax()].item<double>() < 0) components[c] = -row;
    }
    at::Tensor variance = s * s;
    double total = variance.sum().item<double>();
    for (int c = 0; c < 2; ++c)
        explained[c] = (c < variance.size(0) && total > 0) ? variance[c].item<double>() / total : 0.0;
    at::Tensor projected = at::mm(x, components.t());
    if (projected.size(1) < 2) projected = at::cat({projected, at::zeros({projected.size(0), 1}, at::kDouble)}, 1);
    projected = projected.contiguous();
    return std::vector<double>(projected.data_ptr<double>(), projected.data_ptr<double>() + projected.numel());
}

View compute(const Matrix& samples, const std::vector<std::int64_t>& labels, const Classifier& classifier,
             const Prototypes& prototypes, const Classifier& final_classifier, const Settings& settings) {
    View view;
    const std::int64_t chosen = choose_class(classifier, labels, settings);
    auto w_row = row_of(classifier.class_ids), p_row = row_of(prototypes.class_ids),
         f_row = row_of(final_classifier.class_ids);
    if (!w_row.count(chosen) || !p_row.count(chosen))
        throw Error(fmt::format("class {} needs a classifier row and a prototype", chosen));
    view.classes.push_back(chosen);
    for (const auto& n : compat::neighbours(classifier, prototypes, settings.neighbours + 1, settings.tau, chosen))
        if (n.neighbour_id != chosen && static_cast<std::int64_t>(view.classes.size()) <= settings.neighbours)
            view.classes.push_back(n.neighbour_id);
    for (auto id : view.classes) view.counts.push_back(classifier.class_counts[w_row.at(id)]);

    // Points: samples of each class (seeded subsample), then per class its
    // prototype, classifier row and final row.
    Matrix rows(0, samples.cols);
    rows.values.reserve(static_cast<std::size_t>(samples.cols) * 1024);
    std::vector<Point> points;
    Rng rng = make_rng(settings.seed, {0x73616d70});
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot) {
        std::vector<std::int64_t> members;
        for (std::size_t r = 0; r < labels.size(); ++r)
            if (labels[r] == view.classes[slot]) members.push_back(static_cast<std::int64_t>(r));
        if (static_cast<std::int64_t>(members.size()) > settings.max_samples) {
            shuffle(members, rng);
            members.resize(static_cast<std::size_t>(settings.max_samples));
            std::sort(members.begin(), members.end());
        }
        if (members.empty()) log::warn("class {} has no samples in the features", view.classes[slot]);
        for (auto r : members) {
            append_unit_row(rows, samples.row(r));
            points.push_back({"sample", static_cast<int>(slot), view.classes[slot]});
        }
    }
    for (std::size_t slot = 0; slot < view.classes.size(); ++slot) {
        std::int64_t id = view.classes[slot];
        append_unit_row(rows, prototypes.prototypes.row(p_row.at(id)));
        points.push_back({"prototype", static_cast<int>(slot), id});
        append_unit_row(rows, classifier.weights.row(w_row.at(id)));
        points.push_back({"classifier", static_cast<int>(slot), id});
        if (f_row.count(id)) {
            append_unit_row(rows, final_classifier.weights.row(f_row.at(id)));
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
    app.add_option("--features", features, "Features of the samples to show (e.g. validation)")
        ->required()
        ->type_name("FEATS.h5");
    app.add_option("--classifier", classifier, "Learned classifier or model file")->required()->type_name("FILE");
    app.add_option("--protos", protos, "Prototypes file")->required()->type_name("FILE");
    app.add_option("--final", final_classifier, "Final (composed) classifier (default: w^h(k) built here)")
        ->type_name("FILE");
    app.add_option("-k", k, "k of the w^h(k) built when --final is not given")
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
    seed.add_to(app);
}

void run(const Options& options, const Compute& compute) {
    use_threads(compute.threads);
    FeaturesReader features(options.features);
    Matrix samples(features.rows(), features.dim());
    features.read(0, features.rows(), samples.values.data());
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
        attend::Settings compose;
        compose.k = options.k;
        compose.tau = options.settings.tau;
        final_classifier = attend::compose(classifier, prototypes, compose);
        final_name = fmt::format("w^h({})", options.k);
    }
    Settings settings = options.settings;
    settings.seed = options.seed.seed;
    View view = project::compute(samples, features.labels(), classifier, prototypes, final_classifier, settings);

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
        std::string name = name_of(p.class_id);
        for (char& c : name)
            if (c == '\t') c = ' ';
        text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{:.6f}\t{:.6f}\n", p.kind, p.slot, p.class_id, name, group_of(n), n,
                            p.x, p.y);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace lt::project
