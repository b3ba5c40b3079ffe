#include "lt/transfer/attend.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/math/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace lt::attend {

namespace {

bool has_term(const Settings& settings, const std::string& term) {
    return std::find(settings.terms.begin(), settings.terms.end(), term) != settings.terms.end();
}

// Which side plays which role in a mode: the query is w or p, and keys and
// values (always the same set) are w or p.
bool query_is_w(const std::string& mode) { return mode == "w2p" || mode == "w2w"; }
bool sources_are_w(const std::string& mode) { return mode == "p2w" || mode == "w2w"; }

// Row index of every class id, for aligning the two inputs.
std::map<std::int64_t, std::int64_t> index_of(const std::vector<std::int64_t>& class_ids) {
    std::map<std::int64_t, std::int64_t> index;
    for (std::size_t i = 0; i < class_ids.size(); ++i) index[class_ids[i]] = static_cast<std::int64_t>(i);
    return index;
}

// Everything compose() and attention() need, aligned by class id.
struct Aligned {
    std::vector<std::int64_t> class_ids;               // union, increasing
    std::map<std::int64_t, std::int64_t> w_row, p_row;  // class id -> row
    std::map<std::int64_t, std::int64_t> count;        // n_j
    at::Tensor w_hat, p_hat;                           // [rows, D] double, unit rows
};

Aligned align(const Classifier& classifier, const Prototypes& prototypes) {
    if (classifier.weights.cols != prototypes.prototypes.cols)
        throw Error(fmt::format("dimension mismatch: the classifier has dimension {}, the prototypes {}",
                                classifier.weights.cols, prototypes.prototypes.cols));
    Aligned aligned;
    aligned.w_row = index_of(classifier.class_ids);
    aligned.p_row = index_of(prototypes.class_ids);
    std::set<std::int64_t> all(classifier.class_ids.begin(), classifier.class_ids.end());
    all.insert(prototypes.class_ids.begin(), prototypes.class_ids.end());
    aligned.class_ids.assign(all.begin(), all.end());
    // n_j is the classifier's training count; a class only in the prototypes
    // (a new class) counts the rows its prototype averaged.
    for (std::size_t i = 0; i < prototypes.class_ids.size(); ++i)
        aligned.count[prototypes.class_ids[i]] = prototypes.counts[i];
    for (std::size_t i = 0; i < classifier.class_ids.size(); ++i)
        aligned.count[classifier.class_ids[i]] = classifier.class_counts[i];
    aligned.w_hat = normalize_rows(to_tensor(classifier.weights, at::kDouble));
    aligned.p_hat = normalize_rows(to_tensor(prototypes.prototypes, at::kDouble));
    return aligned;
}

at::Tensor rows_of(const at::Tensor& matrix, const std::map<std::int64_t, std::int64_t>& row,
                   const std::vector<std::int64_t>& class_ids) {
    std::vector<std::int64_t> index;
    index.reserve(class_ids.size());
    for (auto id : class_ids) index.push_back(row.at(id));
    return matrix.index_select(0, to_tensor(index));
}

// alpha = softmax_j(tau * q^_i . k^_j) over the sources S(k).
at::Tensor attention_weights(const Aligned& aligned, const std::vector<std::int64_t>& query_ids,
                             const Settings& settings, std::vector<std::int64_t>& source_ids, at::Tensor& values) {
    const auto& source_rows = sources_are_w(settings.mode) ? aligned.w_row : aligned.p_row;
    std::int64_t largest = -1;
    for (const auto& [id, row] : source_rows) {
        largest = std::max(largest, aligned.count.at(id));
        if (aligned.count.at(id) > settings.k) source_ids.push_back(id);
    }
    if (source_ids.empty())
        throw Error(fmt::format("-k {} leaves no source class: every {} class has at most {} training samples",
                                settings.k, sources_are_w(settings.mode) ? "classifier" : "prototype", largest),
                    fmt::format("use -k below {}", largest));
    values = rows_of(sources_are_w(settings.mode) ? aligned.w_hat : aligned.p_hat, source_rows, source_ids);
    at::Tensor queries = query_is_w(settings.mode) ? rows_of(aligned.w_hat, aligned.w_row, query_ids)
                                                   : rows_of(aligned.p_hat, aligned.p_row, query_ids);
    // softmax subtracts the row maximum, so a large tau does not overflow.
    return at::softmax(settings.tau * at::mm(queries, values.t()), 1);
}

void require(const Aligned& aligned, const std::vector<std::int64_t>& class_ids, bool need_w, bool need_p,
             const Settings& settings) {
    for (auto id : class_ids) {
        if (need_w && !aligned.w_row.count(id))
            throw Error(fmt::format("class {} needs w (terms {}, mode {}) but has no classifier row", id,
                                    fmt::join(settings.terms, ","), settings.mode),
                        "--continual (terms kt,p) builds weights for classes that only have a prototype");
        if (need_p && !aligned.p_row.count(id))
            throw Error(fmt::format("class {} needs a prototype (terms {}, mode {}) but has none", id,
                                    fmt::join(settings.terms, ","), settings.mode),
                        "compute the prototypes from features that include this class");
    }
}

void check_settings(const Settings& settings) {
    static const std::set<std::string> modes = {"p2w", "w2p", "w2w", "p2p"};
    if (!modes.count(settings.mode))
        throw UsageError(fmt::format("unknown mode '{}' (expected p2w, w2p, w2w or p2p)", settings.mode));
    if (settings.k < 0) throw UsageError(fmt::format("-k must be >= 0 (got {})", settings.k));
    if (!std::isfinite(settings.tau) || settings.tau < 0)
        throw UsageError(fmt::format("--tau must be a finite number >= 0 (got {})", settings.tau));
    if (settings.terms.empty()) throw UsageError("--terms is empty");
}

}  // namespace

std::vector<std::string> parse_terms(const std::string& text) {
    std::set<std::string> seen;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        std::string term = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (term != "kt" && term != "p" && term != "w")
            throw UsageError(fmt::format("--terms: unknown term '{}' (expected a comma-separated subset of kt,p,w)", term));
        if (!seen.insert(term).second) throw UsageError(fmt::format("--terms: '{}' is given twice", term));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    std::vector<std::string> terms;
    for (const char* term : {"kt", "p", "w"})
        if (seen.count(term)) terms.emplace_back(term);
    return terms;
}

Attention attention(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings) {
    check_settings(settings);
    Aligned aligned = align(classifier, prototypes);
    Attention result;
    for (auto id : aligned.class_ids)
        if ((query_is_w(settings.mode) ? aligned.w_row : aligned.p_row).count(id)) result.query_ids.push_back(id);
    at::Tensor values;
    at::Tensor alpha = attention_weights(aligned, result.query_ids, settings, result.source_ids, values).contiguous();
    result.weights.assign(alpha.data_ptr<double>(), alpha.data_ptr<double>() + alpha.numel());
    return result;
}

Classifier compose(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   const std::string& device) {
    check_settings(settings);
    Aligned aligned = align(classifier, prototypes);
    const bool with_kt = has_term(settings, "kt");
    const bool need_w = has_term(settings, "w") || (with_kt && query_is_w(settings.mode));
    const bool need_p = has_term(settings, "p") || (with_kt && !query_is_w(settings.mode));
    require(aligned, aligned.class_ids, need_w, need_p, settings);

    at::Device target = resolve_device(device);
    const auto dim = classifier.weights.cols;
    at::Tensor composed = at::zeros({static_cast<std::int64_t>(aligned.class_ids.size()), dim}, at::kDouble);
    if (with_kt) {
        std::vector<std::int64_t> source_ids;
        at::Tensor values;
        at::Tensor alpha = attention_weights(aligned, aligned.class_ids, settings, source_ids, values);
        at::Tensor transferred = at::mm(alpha.to(target), values.to(target)).cpu();
        composed += normalize_rows(transferred);
        log::verbose("k = {}: {} source classes of {}", settings.k, source_ids.size(), aligned.class_ids.size());
    }
    if (has_term(settings, "p")) composed += rows_of(aligned.p_hat, aligned.p_row, aligned.class_ids);
    if (has_term(settings, "w")) composed += rows_of(aligned.w_hat, aligned.w_row, aligned.class_ids);

    Classifier result;
    result.kind = "cosine";
    result.scale = classifier.kind == "cosine" ? classifier.scale : kDefaultScale;
    if (classifier.kind != "cosine")
        log::warn("the input classifier is linear; the composed cosine classifier gets scale {}", kDefaultScale);
    result.weights = to_matrix(composed);
    result.class_ids = aligned.class_ids;
    for (auto id : aligned.class_ids) result.class_counts.push_back(aligned.count.at(id));
    result.composition = {{"mode", settings.mode},
                          {"k", std::to_string(settings.k)},
                          {"tau", fmt::format("{}", settings.tau)},
                          {"terms", fmt::format("{}", fmt::join(settings.terms, ","))}};
    return result;
}

void Options::add_to(CLI::App& app) {
    app.add_option("--classifier", classifier, "Classifier or model file (its /classifier); '-' = stdin")
        ->required()
        ->type_name("FILE");
    app.add_option("--protos", protos, "Prototypes file (lt-protos); '-' = stdin")->required()->type_name("FILE");
    output.add_to(app, "Composed classifier to write ('-' = stdout)");
    app.add_option("-k", settings.k, "Source classes are those with more than K training samples")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--tau", settings.tau, "Attention temperature (a multiplier of the cosine)")
        ->check(cli::NonNegative)
        ->capture_default_str();
    app.add_option("--mode", settings.mode, "Query and key/value roles: prototype->classifier, ...")
        ->check(CLI::IsMember({"p2w", "w2p", "w2w", "p2p"}))
        ->capture_default_str();
    auto* terms_option = app.add_option("--terms", terms, "Unit vectors summed per class: subset of kt,p,w (Eq. 7)")
                             ->capture_default_str();
    app.add_flag("--continual", continual, "Same as --terms kt,p (Eq. 9): also builds rows for new classes")
        ->excludes(terms_option);
}

void run(const Options& options, const Compute& compute) {
    use_threads(compute.threads);
    if (options.classifier == "-" && options.protos == "-")
        throw UsageError("--classifier and --protos cannot both be read from stdin");
    Settings settings = options.settings;
    settings.terms = parse_terms(options.continual ? "kt,p" : options.terms);
    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "lt-attend");
    h5::InputFile prototypes_file(options.protos);
    Prototypes prototypes = read_prototypes(prototypes_file);
    Classifier composed = compose(classifier, prototypes, settings, compute.device);
    h5::OutputFile out(options.output.path, "classifier");
    write_classifier_group(out, composed);
    out.commit();
}

}  // namespace lt::attend
