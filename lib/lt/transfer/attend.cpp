#include "lt/transfer/attend.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/math/memory.hpp"
#include "lt/math/rows.hpp"
#include "lt/math/select.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <set>

namespace lt::attend {

namespace {

const char* kBlockHint = "use a smaller --block-rows";
// Automatic blocks: as many query rows as 64 MiB of scores and weights hold.
constexpr std::int64_t kBlockBytes = std::int64_t{64} << 20;

bool has_term(const std::vector<std::string>& terms, const std::string& term) {
    return std::find(terms.begin(), terms.end(), term) != terms.end();
}

// Which side plays which role in a mode: the query is w or p, and keys and
// values (always the same set) are w or p.
bool query_is_w(const std::string& mode) { return mode == "w2p" || mode == "w2w"; }
bool sources_are_w(const std::string& mode) { return mode == "p2w" || mode == "w2w"; }

void check_mode_and_terms(const std::string& mode, const std::vector<std::string>& terms) {
    static const std::set<std::string> modes = {"p2w", "w2p", "w2w", "p2p"};
    if (!modes.count(mode)) throw UsageError(fmt::format("unknown mode '{}' (expected p2w, w2p, w2w or p2p)", mode));
    if (terms.empty()) throw UsageError("--terms is empty");
}

void check_k(std::int64_t k) {
    if (k < 0) throw UsageError(fmt::format("-k must be >= 0 (got {})", k));
}

void check_tau(double tau) {
    if (!std::isfinite(tau) || tau < 0)
        throw UsageError(fmt::format("--tau must be a finite number >= 0 (got {})", tau));
}

// Both inputs by class id, with their rows at unit length.
struct Aligned {
    ClassIndex w, p;                   // rows of the classifier and of the prototypes
    ClassIndex all;                    // classes of either, increasing
    std::vector<std::int64_t> counts;  // n_j of the classes of `all`
    std::int64_t dim = 0;
    std::vector<float> w_hat, p_hat;   // unit rows, in the inputs' order
    const Classifier* classifier = nullptr;
    const Prototypes* prototypes = nullptr;

    std::int64_t count_of(std::int64_t id) const { return counts[static_cast<std::size_t>(all.row(id))]; }
    const float* w_row(std::int64_t id) const { return w_hat.data() + w.row(id) * dim; }
    const float* p_row(std::int64_t id) const { return p_hat.data() + p.row(id) * dim; }
};

std::vector<float> unit_rows(const Matrix& matrix) {
    std::vector<float> rows;
    math::allocate(rows, matrix.values.size(), "unit rows of an input", "");
    std::copy(matrix.values.begin(), matrix.values.end(), rows.begin());
    math::normalize_rows(rows.data(), matrix.rows, matrix.cols);
    return rows;
}

Aligned align(const Classifier& classifier, const Prototypes& prototypes) {
    if (classifier.weights.cols != prototypes.prototypes.cols)
        throw Error(fmt::format("dimension mismatch: the classifier has dimension {}, the prototypes {}",
                                classifier.weights.cols, prototypes.prototypes.cols));
    Aligned aligned;
    aligned.classifier = &classifier;
    aligned.prototypes = &prototypes;
    aligned.dim = classifier.weights.cols;
    aligned.w = ClassIndex(classifier.class_ids);
    aligned.p = ClassIndex(prototypes.class_ids);
    aligned.all = ClassIndex(union_ids(classifier.class_ids, prototypes.class_ids));
    // n_j is the classifier's training count; a class only in the prototypes
    // (a new class) counts the rows its prototype averaged.
    aligned.counts.assign(aligned.all.size(), 0);
    for (std::size_t i = 0; i < prototypes.class_ids.size(); ++i)
        aligned.counts[static_cast<std::size_t>(aligned.all.row(prototypes.class_ids[i]))] = prototypes.counts[i];
    for (std::size_t i = 0; i < classifier.class_ids.size(); ++i)
        aligned.counts[static_cast<std::size_t>(aligned.all.row(classifier.class_ids[i]))] = classifier.class_counts[i];
    aligned.w_hat = unit_rows(classifier.weights);
    aligned.p_hat = unit_rows(prototypes.prototypes);
    return aligned;
}

void require(const Aligned& aligned, const std::vector<std::int64_t>& class_ids, bool need_w, bool need_p,
             const std::string& mode, const std::vector<std::string>& terms) {
    for (auto id : class_ids) {
        if (!aligned.all.contains(id))
            throw Error(fmt::format("class {} is in neither the classifier nor the prototypes", id));
        if (need_w && !aligned.w.contains(id)) {
            // w is needed as a term, or as the query of kt (w2p, w2w): the
            // hint names what changes, never what is already given.
            std::vector<std::string> fixes;
            if (has_term(terms, "w")) fixes.emplace_back("--continual (terms kt,p)");
            if (query_is_w(mode)) fixes.emplace_back("--mode p2w or p2p");
            throw Error(fmt::format("class {} needs w (terms {}, mode {}) but has no classifier row", id,
                                    fmt::join(terms, ","), mode),
                        fmt::format("{} builds weights for classes that only have a prototype",
                                    fmt::join(fixes, " with ")));
        }
        if (need_p && !aligned.p.contains(id))
            throw Error(fmt::format("class {} needs a prototype (terms {}, mode {}) but has none", id,
                                    fmt::join(terms, ","), mode),
                        "compute the prototypes from features that include this class");
    }
}

// The source classes: rows of the key/value side with more than k training
// samples. By count (most first, then by id), every S(k) of a sweep is a
// prefix: prefix[i] = |S(ks[i])|. Else by id.
struct Sources {
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> prefix;
};

Sources sources_of(const Aligned& aligned, const std::string& mode, const std::vector<std::int64_t>& ks,
                   bool by_count) {
    const ClassIndex& table = sources_are_w(mode) ? aligned.w : aligned.p;
    const std::int64_t smallest_k = *std::min_element(ks.begin(), ks.end());
    std::int64_t largest = -1;
    Sources sources;
    for (auto id : table.ids()) {
        largest = std::max(largest, aligned.count_of(id));
        if (aligned.count_of(id) > smallest_k) sources.ids.push_back(id);
    }
    if (by_count)
        std::sort(sources.ids.begin(), sources.ids.end(), [&](std::int64_t a, std::int64_t b) {
            const auto na = aligned.count_of(a), nb = aligned.count_of(b);
            return na > nb || (na == nb && a < b);
        });
    else
        std::sort(sources.ids.begin(), sources.ids.end());
    for (auto k : ks) {
        std::int64_t size = 0;
        for (auto id : sources.ids) size += aligned.count_of(id) > k;
        if (size == 0)
            throw Error(fmt::format("-k {} leaves no source class: every {} class has at most {} training samples", k,
                                    sources_are_w(mode) ? "classifier" : "prototype", largest),
                        fmt::format("use -k below {}", largest));
        sources.prefix.push_back(size);
    }
    return sources;
}

// Unit rows of the given classes, in that order, in precision T, into out.
// Double rows are normalised from the inputs in double (a large tau needs
// them).
template <class T>
void gather_into(const Aligned& aligned, const std::int64_t* ids, std::int64_t count, bool from_w, T* out) {
    const std::int64_t dim = aligned.dim;
    for (std::int64_t i = 0; i < count; ++i) {
        const float* row;
        if constexpr (std::is_same_v<T, float>)
            row = from_w ? aligned.w_row(ids[i]) : aligned.p_row(ids[i]);
        else
            row = from_w ? aligned.classifier->weights.row(aligned.w.row(ids[i]))
                         : aligned.prototypes->prototypes.row(aligned.p.row(ids[i]));
        std::copy(row, row + dim, out + i * dim);
    }
    if constexpr (std::is_same_v<T, double>) math::normalize_rows(out, count, dim);
}

template <class T>
std::vector<T> gather(const Aligned& aligned, const std::vector<std::int64_t>& ids, bool from_w) {
    std::vector<T> rows;
    math::allocate(rows, ids.size() * static_cast<std::size_t>(aligned.dim), "the attention's source rows", "");
    gather_into(aligned, ids.data(), static_cast<std::int64_t>(ids.size()), from_w, rows.data());
    return rows;
}

std::int64_t block_rows(std::int64_t requested, std::int64_t sources, std::size_t value_bytes, std::int64_t rows) {
    if (requested > 0) return std::min(requested, std::max<std::int64_t>(rows, 1));
    const std::int64_t automatic = kBlockBytes / std::max<std::int64_t>(1, 2 * sources * static_cast<std::int64_t>(value_bytes));
    return std::clamp<std::int64_t>(automatic, 16, 1024);
}

// Adds the p and w terms of class `id` to a composed row.
void add_terms(const Aligned& aligned, const std::vector<std::string>& terms, std::int64_t id, float* row) {
    if (has_term(terms, "p")) math::add(aligned.p_row(id), aligned.dim, row);
    if (has_term(terms, "w")) math::add(aligned.w_row(id), aligned.dim, row);
}

// Taus up to this compose through prefix sums (transfer_blocks): the
// weights e^(tau (s - max)) of cosines s stay above e^-60, far inside
// float's range, for every S(k).
constexpr double kPrefixTauLimit = 30;

// kt rows of every value of the sweep, block by block (T: the precision of
// the scores, the attention and the transferred rows).
//
// normalize(sum_j alpha_ij v_j) does not depend on the softmax's normaliser,
// so with one shift per row (the maximum over all sources) the unnormalised
// weights e_ij serve every k: the sources being ordered by count, S(k) is a
// prefix, and sum over S(k) is a running sum over the chunks between
// consecutive prefixes, one product over all sources in all. A large tau
// (where e_ij of a small S(k) could underflow) normalises per k instead.
template <class T>
void transfer_blocks(const Aligned& aligned, const Sources& sources, const std::vector<std::int64_t>& ids,
                     const Sweep& sweep, const math::Backend& backend, const RowSink& sink,
                     const NormSink* kt_norms) {
    const std::int64_t dim = aligned.dim, rows = static_cast<std::int64_t>(ids.size());
    const std::int64_t width = static_cast<std::int64_t>(sources.ids.size());
    const bool from_w = query_is_w(sweep.mode);
    const std::vector<T> values = gather<T>(aligned, sources.ids, sources_are_w(sweep.mode));
    const auto operand = backend.keep(values.data(), width, dim);
    const std::int64_t block = block_rows(sweep.block_rows, width, sizeof(T), rows);
    const bool by_prefix_sums = std::is_same_v<T, float> &&
                                *std::max_element(sweep.taus.begin(), sweep.taus.end()) <= kPrefixTauLimit;
    // The values of k by prefix size, smallest first.
    std::vector<std::size_t> by_prefix(sweep.ks.size());
    std::iota(by_prefix.begin(), by_prefix.end(), 0);
    std::stable_sort(by_prefix.begin(), by_prefix.end(),
                     [&](std::size_t a, std::size_t b) { return sources.prefix[a] < sources.prefix[b]; });

    std::vector<T> queries, scores, alpha, transferred;
    std::vector<float> composed;
    std::vector<double> norms(kt_norms ? static_cast<std::size_t>(block) : 0);
    math::allocate(queries, static_cast<std::size_t>(block * dim), "a block of attention queries", kBlockHint);
    math::allocate(scores, static_cast<std::size_t>(block * width), "a block of attention scores", kBlockHint);
    math::allocate(alpha, static_cast<std::size_t>(block * width), "a block of attention weights", kBlockHint);
    math::allocate(transferred, static_cast<std::size_t>(block * dim), "a block of transferred rows", kBlockHint);
    math::allocate(composed, static_cast<std::size_t>(block * dim), "a block of composed rows", kBlockHint);

    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t count = std::min(block, rows - first);
        const std::int64_t* block_ids = ids.data() + first;
        // The composed rows of a value: normalize(kt) + the p and w terms.
        auto emit = [&](std::size_t value) {
            math::parallel_for(count, 16, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t r = begin; r < end; ++r) {
                    float* row = composed.data() + r * dim;
                    const T* kt = transferred.data() + r * dim;
                    for (std::int64_t d = 0; d < dim; ++d) row[d] = static_cast<float>(kt[d]);
                    if (kt_norms) norms[r] = std::sqrt(math::dot(row, row, dim));
                }
            });
            if (kt_norms) (*kt_norms)(value, first, count, norms.data());
            math::normalize_rows(composed.data(), count, dim);
            math::parallel_for(count, 16, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t r = begin; r < end; ++r)
                    add_terms(aligned, sweep.terms, block_ids[r], composed.data() + r * dim);
            });
            sink(value, first, count, composed.data());
        };
        gather_into(aligned, block_ids, count, from_w, queries.data());
        backend.multiply_transposed(queries.data(), count, *operand, scores.data());
        for (std::size_t t = 0; t < sweep.taus.size(); ++t) {
            const double tau = sweep.taus[t];
            if constexpr (std::is_same_v<T, float>) {
                if (by_prefix_sums) {
                    math::parallel_for(count, 16, [&](std::int64_t begin, std::int64_t end) {
                        for (std::int64_t r = begin; r < end; ++r)
                            math::softmax_weights(scores.data() + r * width, width, tau, alpha.data() + r * width);
                    });
                    std::int64_t done = 0;  // sources summed so far
                    for (std::size_t k : by_prefix) {
                        const std::int64_t prefix = sources.prefix[k];
                        if (prefix > done)
                            backend.multiply(alpha.data() + done, width, count, done, prefix - done, *operand,
                                             transferred.data(), /*accumulate=*/done > 0);
                        done = prefix;
                        emit(k * sweep.taus.size() + t);
                    }
                    continue;
                }
            }
            for (std::size_t k = 0; k < sweep.ks.size(); ++k) {
                // alpha = softmax_j(tau * q^_i . k^_j) over the sources S(k).
                const std::int64_t prefix = sources.prefix[k];
                math::parallel_for(count, 16, [&](std::int64_t begin, std::int64_t end) {
                    for (std::int64_t r = begin; r < end; ++r)
                        math::softmax(scores.data() + r * width, prefix, tau, alpha.data() + r * prefix);
                });
                backend.multiply(alpha.data(), prefix, count, 0, prefix, *operand, transferred.data(), false);
                emit(k * sweep.taus.size() + t);
            }
        }
    }
}

void check_sweep(const Sweep& sweep) {
    check_mode_and_terms(sweep.mode, sweep.terms);
    if (sweep.ks.empty() || sweep.taus.empty()) throw UsageError("-k and --tau need at least one value");
    for (auto k : sweep.ks) check_k(k);
    for (auto tau : sweep.taus) check_tau(tau);
}

}  // namespace

Settings Sweep::at(std::size_t value) const {
    Settings settings;
    settings.k = ks[value / taus.size()];
    settings.tau = taus[value % taus.size()];
    settings.mode = mode;
    settings.terms = terms;
    return settings;
}

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

std::vector<std::int64_t> parse_ks(const std::string& text) { return cli::parse_integer_list(text, "-k"); }

std::vector<double> parse_taus(const std::string& text) { return cli::parse_number_list(text, "--tau"); }

std::vector<Classifier> compose_sweep(const Classifier& classifier, const Prototypes& prototypes, const Sweep& sweep,
                                      const math::Backend& backend, const RowSink& sink,
                                      const std::vector<std::int64_t>* only, const NormSink* kt_norms) {
    check_sweep(sweep);
    const Aligned aligned = align(classifier, prototypes);
    const bool with_kt = has_term(sweep.terms, "kt");
    const bool need_w = has_term(sweep.terms, "w") || (with_kt && query_is_w(sweep.mode));
    const bool need_p = has_term(sweep.terms, "p") || (with_kt && !query_is_w(sweep.mode));
    const std::vector<std::int64_t>& ids = only ? *only : aligned.all.ids();
    require(aligned, ids, need_w, need_p, sweep.mode, sweep.terms);

    std::vector<Classifier> described(sweep.size());
    if (classifier.kind != "cosine")
        log::warn("the input classifier is linear; the composed cosine classifier gets scale {}", kDefaultScale);
    for (std::size_t v = 0; v < sweep.size(); ++v) {
        const Settings settings = sweep.at(v);
        Classifier& out = described[v];
        out.kind = "cosine";
        out.scale = classifier.kind == "cosine" ? classifier.scale : kDefaultScale;
        out.class_ids = ids;
        for (auto id : ids) out.class_counts.push_back(aligned.count_of(id));
        out.composition = {{"mode", settings.mode},
                           {"k", std::to_string(settings.k)},
                           {"tau", fmt::format("{}", settings.tau)},
                           {"terms", fmt::format("{}", fmt::join(settings.terms, ","))}};
    }

    if (!with_kt) {
        // The same rows for every value: sums of the chosen unit vectors.
        const std::int64_t dim = aligned.dim, rows = static_cast<std::int64_t>(ids.size());
        const std::int64_t block = block_rows(sweep.block_rows, 1, 4, rows);
        std::vector<float> composed;
        math::allocate(composed, static_cast<std::size_t>(block * dim), "a block of composed rows", kBlockHint);
        for (std::int64_t first = 0; first < rows; first += block) {
            const std::int64_t count = std::min(block, rows - first);
            std::fill(composed.begin(), composed.end(), 0.0f);
            for (std::int64_t r = 0; r < count; ++r)
                add_terms(aligned, sweep.terms, ids[static_cast<std::size_t>(first + r)], composed.data() + r * dim);
            for (std::size_t v = 0; v < sweep.size(); ++v) sink(v, first, count, composed.data());
        }
        return described;
    }

    const Sources sources = sources_of(aligned, sweep.mode, sweep.ks, /*by_count=*/true);
    for (std::size_t i = 0; i < sweep.ks.size(); ++i)
        log::verbose("k = {}: {} source classes of {}", sweep.ks[i], sources.prefix[i], aligned.all.size());
    const bool in_double =
        *std::max_element(sweep.taus.begin(), sweep.taus.end()) > math::kFloatTauLimit;
    if (in_double) transfer_blocks<double>(aligned, sources, ids, sweep, backend, sink, kt_norms);
    else transfer_blocks<float>(aligned, sources, ids, sweep, backend, sink, kt_norms);
    return described;
}

namespace {

Classifier compose_in_memory(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                             const std::vector<std::int64_t>* only, const math::Backend& backend) {
    Sweep sweep;
    sweep.ks = {settings.k};
    sweep.taus = {settings.tau};
    sweep.mode = settings.mode;
    sweep.terms = settings.terms;
    Matrix weights;
    const std::int64_t dim = classifier.weights.cols;
    auto sink = [&](std::size_t, std::int64_t first, std::int64_t rows, const float* values) {
        weights.values.resize(static_cast<std::size_t>((first + rows) * dim));
        std::copy(values, values + rows * dim, weights.values.begin() + first * dim);
    };
    Classifier result = compose_sweep(classifier, prototypes, sweep, backend, sink, only).front();
    weights.rows = static_cast<std::int64_t>(result.class_ids.size());
    weights.cols = dim;
    weights.values.resize(static_cast<std::size_t>(weights.rows * dim));
    result.weights = std::move(weights);
    return result;
}

}  // namespace

Classifier compose(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   const math::Backend& backend) {
    return compose_in_memory(classifier, prototypes, settings, nullptr, backend);
}

Classifier compose_rows(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                        const std::vector<std::int64_t>& class_ids, const math::Backend& backend) {
    return compose_in_memory(classifier, prototypes, settings, &class_ids, backend);
}

// ---------------------------------------------------------------- SweepScorer

struct SweepScorer::State {
    std::vector<Classifier> described;
    std::vector<std::int64_t> ids;   // output rows (classes), increasing
    std::int64_t dim = 0, classes = 0, width = 0;
    std::size_t taus = 1;
    bool kt = false, p = false, w = false;
    std::vector<std::int64_t> prefix;           // per k: |S(k)|
    std::vector<std::size_t> by_prefix;         // the values of k by prefix size, smallest first
    std::vector<float> kt_scale, term_scale;    // V x C: 1 / (|u_i| |r_i|) and 1 / |r_i|
    std::vector<float> sources, p_rows, w_rows;  // S x D unit source rows, C x D unit p^ and w^ of the output rows
    std::vector<std::vector<float>> weights;    // per tau: S x C, e_ij transposed
    std::unique_ptr<math::Backend::Operand> sources_operand, p_operand, w_operand;
    std::vector<std::unique_ptr<math::Backend::Operand>> weight_operands;
    std::vector<float> products, p_products, w_products, running, scores;  // per block of feature rows
    const math::Backend* backend = nullptr;
};

SweepScorer::SweepScorer(const Classifier& classifier, const Prototypes& prototypes, const Sweep& sweep,
                         const math::Backend& backend)
    : state_(std::make_unique<State>()) {
    State& st = *state_;
    st.backend = &backend;
    check_sweep(sweep);
    for (double tau : sweep.taus)
        if (tau > kPrefixTauLimit)
            throw UsageError(fmt::format("--tau {} is above {}, the largest the sweep scores without composing", tau,
                                         kPrefixTauLimit),
                             "compose the classifiers with lt-attend -o and evaluate the files");
    const Aligned aligned = align(classifier, prototypes);
    st.ids = aligned.all.ids();
    st.dim = aligned.dim;
    st.classes = static_cast<std::int64_t>(st.ids.size());
    st.taus = sweep.taus.size();
    st.kt = has_term(sweep.terms, "kt");
    st.p = has_term(sweep.terms, "p");
    st.w = has_term(sweep.terms, "w");
    const std::size_t values = sweep.size();
    const auto cells = values * static_cast<std::size_t>(st.classes);
    math::allocate(st.kt_scale, cells, "the sweep's scale factors", "");
    math::allocate(st.term_scale, cells, "the sweep's scale factors", "");

    // |u_i| from the transferred rows and |r_i| from the composed ones, as
    // lt-attend makes them.
    std::vector<double> kt_norm(cells, 1.0);
    const RowSink rows_sink = [&](std::size_t v, std::int64_t first, std::int64_t rows, const float* composed) {
        for (std::int64_t r = 0; r < rows; ++r) {
            const float* row = composed + r * st.dim;
            const double norm = std::sqrt(math::dot(row, row, st.dim));
            const auto at = v * static_cast<std::size_t>(st.classes) + static_cast<std::size_t>(first + r);
            st.term_scale[at] = norm > 0 ? static_cast<float>(1 / norm) : 0.0f;
            st.kt_scale[at] = norm > 0 && kt_norm[at] > 0 ? static_cast<float>(1 / (norm * kt_norm[at])) : 0.0f;
        }
    };
    const NormSink norms_sink = [&](std::size_t v, std::int64_t first, std::int64_t rows, const double* norms) {
        for (std::int64_t r = 0; r < rows; ++r)
            kt_norm[v * static_cast<std::size_t>(st.classes) + static_cast<std::size_t>(first + r)] = norms[r];
    };
    st.described = compose_sweep(classifier, prototypes, sweep, backend, rows_sink, nullptr, &norms_sink);

    const std::vector<std::int64_t>& ids = st.ids;
    if (st.p) {
        st.p_rows = gather<float>(aligned, ids, /*from_w=*/false);
        st.p_operand = backend.keep(st.p_rows.data(), st.classes, st.dim);
    }
    if (st.w) {
        st.w_rows = gather<float>(aligned, ids, /*from_w=*/true);
        st.w_operand = backend.keep(st.w_rows.data(), st.classes, st.dim);
    }
    if (!st.kt) return;

    // The weights e_ij = e^(tau (s_ij - max_j s_ij)) over all sources, as
    // compose_sweep computes them, transposed: sources x classes.
    const Sources sources = sources_of(aligned, sweep.mode, sweep.ks, /*by_count=*/true);
    st.prefix = sources.prefix;
    st.by_prefix.resize(sweep.ks.size());
    std::iota(st.by_prefix.begin(), st.by_prefix.end(), 0);
    std::stable_sort(st.by_prefix.begin(), st.by_prefix.end(),
                     [&](std::size_t a, std::size_t b) { return st.prefix[a] < st.prefix[b]; });
    st.width = static_cast<std::int64_t>(sources.ids.size());
    st.sources = gather<float>(aligned, sources.ids, sources_are_w(sweep.mode));
    st.sources_operand = backend.keep(st.sources.data(), st.width, st.dim);
    const bool from_w = query_is_w(sweep.mode);
    const std::int64_t block = block_rows(sweep.block_rows, st.width, sizeof(float), st.classes);
    std::vector<float> queries, similarities, weights;
    math::allocate(queries, static_cast<std::size_t>(block * st.dim), "a block of attention queries", kBlockHint);
    math::allocate(similarities, static_cast<std::size_t>(block * st.width), "a block of attention scores", kBlockHint);
    math::allocate(weights, static_cast<std::size_t>(block * st.width), "a block of attention weights", kBlockHint);
    st.weights.resize(st.taus);
    for (auto& transposed : st.weights)
        math::allocate(transposed, static_cast<std::size_t>(st.width * st.classes), "the sweep's attention weights",
                       "evaluate fewer --tau values at a time, or compose the classifiers with lt-attend -o");
    for (std::int64_t first = 0; first < st.classes; first += block) {
        const std::int64_t count = std::min(block, st.classes - first);
        gather_into(aligned, ids.data() + first, count, from_w, queries.data());
        backend.multiply_transposed(queries.data(), count, *st.sources_operand, similarities.data());
        for (std::size_t t = 0; t < st.taus; ++t) {
            float* transposed = st.weights[t].data();
            math::parallel_for(count, 16, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t r = begin; r < end; ++r) {
                    float* row = weights.data() + r * st.width;
                    math::softmax_weights(similarities.data() + r * st.width, st.width, sweep.taus[t], row);
                    for (std::int64_t j = 0; j < st.width; ++j) transposed[j * st.classes + first + r] = row[j];
                }
            });
        }
    }
    for (auto& transposed : st.weights) st.weight_operands.push_back(backend.keep(transposed.data(), st.width, st.classes));
}

SweepScorer::~SweepScorer() = default;

const std::vector<Classifier>& SweepScorer::classifiers() const { return state_->described; }

std::int64_t SweepScorer::dim() const { return state_->dim; }

void SweepScorer::score(const float* unit, std::int64_t rows, const std::function<void(std::size_t, float*)>& visit) {
    State& st = *state_;
    const math::Backend& backend = *st.backend;
    const std::int64_t classes = st.classes;
    const auto cells = static_cast<std::size_t>(rows * classes);
    if (st.p) {
        math::allocate(st.p_products, cells, "a block of prototype scores", kBlockHint);
        backend.multiply_transposed(unit, rows, *st.p_operand, st.p_products.data());
    }
    if (st.w) {
        math::allocate(st.w_products, cells, "a block of classifier scores", kBlockHint);
        backend.multiply_transposed(unit, rows, *st.w_operand, st.w_products.data());
    }
    math::allocate(st.scores, cells, "a block of scores", kBlockHint);
    // scores = running * kt_scale + (p + w products) * term_scale, per value.
    auto emit = [&](std::size_t v) {
        const float* kt_scale = st.kt_scale.data() + v * static_cast<std::size_t>(classes);
        const float* term_scale = st.term_scale.data() + v * static_cast<std::size_t>(classes);
        math::parallel_for(rows, 16, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t r = begin; r < end; ++r) {
                float* out = st.scores.data() + r * classes;
                const float* kt = st.kt ? st.running.data() + r * classes : nullptr;
                const float* p = st.p ? st.p_products.data() + r * classes : nullptr;
                const float* w = st.w ? st.w_products.data() + r * classes : nullptr;
                for (std::int64_t i = 0; i < classes; ++i) {
                    const float terms = (p ? p[i] : 0.0f) + (w ? w[i] : 0.0f);
                    out[i] = (kt ? kt[i] * kt_scale[i] : 0.0f) + terms * term_scale[i];
                }
            }
        });
        visit(v, st.scores.data());
    };
    if (!st.kt) {
        for (std::size_t v = 0; v < st.described.size(); ++v) emit(v);
        return;
    }
    math::allocate(st.products, static_cast<std::size_t>(rows * st.width), "a block of source scores", kBlockHint);
    math::allocate(st.running, cells, "a block of transferred scores", kBlockHint);
    backend.multiply_transposed(unit, rows, *st.sources_operand, st.products.data());
    for (std::size_t t = 0; t < st.taus; ++t) {
        std::int64_t done = 0;  // sources summed so far
        for (std::size_t k : st.by_prefix) {
            const std::int64_t prefix = st.prefix[k];
            if (prefix > done)
                backend.multiply(st.products.data() + done, st.width, rows, done, prefix - done,
                                 *st.weight_operands[t], st.running.data(), /*accumulate=*/done > 0);
            done = prefix;
            emit(k * st.taus + t);
        }
    }
}

void top_attention(const Classifier& classifier, const Prototypes& prototypes, const Settings& settings,
                   std::int64_t count, const std::function<void(const Neighbours&)>& visit,
                   const std::vector<std::int64_t>* only, std::int64_t block_rows_requested) {
    check_mode_and_terms(settings.mode, settings.terms);
    check_k(settings.k);
    check_tau(settings.tau);
    const Aligned aligned = align(classifier, prototypes);
    const bool from_w = query_is_w(settings.mode);
    const ClassIndex& query_table = from_w ? aligned.w : aligned.p;
    std::vector<std::int64_t> ids;
    if (only) {
        for (auto id : *only)
            if (!query_table.contains(id))
                throw Error(fmt::format("class {} has no {}", id, from_w ? "classifier row" : "prototype"));
        ids = *only;
    } else {
        for (auto id : aligned.all.ids())
            if (query_table.contains(id)) ids.push_back(id);
    }
    const Sources sources = sources_of(aligned, settings.mode, {settings.k}, /*by_count=*/false);
    const std::int64_t width = static_cast<std::int64_t>(sources.ids.size()), dim = aligned.dim;
    const std::int64_t rows = static_cast<std::int64_t>(ids.size());
    const bool in_double = settings.tau > math::kFloatTauLimit;
    // Scores in double (a large tau) are ranked through float copies within
    // their rounding, then settled in double.
    const std::vector<float> values_f = gather<float>(aligned, sources.ids, sources_are_w(settings.mode));
    std::vector<double> values_d;
    if (in_double) values_d = gather<double>(aligned, sources.ids, sources_are_w(settings.mode));
    const math::Backend& backend = math::cpu_backend();
    const auto operand = in_double ? backend.keep(values_d.data(), width, dim) : backend.keep(values_f.data(), width, dim);
    const std::int64_t block =
        block_rows(block_rows_requested, width, in_double ? sizeof(double) : sizeof(float), rows);
    const int top = static_cast<int>(std::min<std::int64_t>(count, width));
    std::vector<float> scores_f, queries_f;
    std::vector<double> scores_d;
    math::allocate(scores_f, static_cast<std::size_t>(block * width), "a block of attention scores", kBlockHint);
    math::allocate(queries_f, static_cast<std::size_t>(block * dim), "a block of attention queries", kBlockHint);
    if (in_double) math::allocate(scores_d, static_cast<std::size_t>(block * width), "a block of attention scores", kBlockHint);
    std::vector<Neighbours> found(static_cast<std::size_t>(block));

    for (std::int64_t first = 0; first < rows; first += block) {
        const std::int64_t n = std::min(block, rows - first);
        const std::vector<std::int64_t> block_ids(ids.begin() + first, ids.begin() + first + n);
        if (in_double) {
            const std::vector<double> queries = gather<double>(aligned, block_ids, from_w);
            backend.multiply_transposed(queries.data(), n, *operand, scores_d.data());
            std::copy(scores_d.begin(), scores_d.begin() + n * width, scores_f.begin());
        } else {
            gather_into(aligned, block_ids.data(), n, from_w, queries_f.data());
            backend.multiply_transposed(queries_f.data(), n, *operand, scores_f.data());
        }
        math::parallel_for(n, 16, [&](std::int64_t begin, std::int64_t end) {
            math::TopSelector selector;
            std::vector<math::Ranked> best;
            for (std::int64_t r = begin; r < end; ++r) {
                const float* row_f = scores_f.data() + r * width;
                const double* row_d = in_double ? scores_d.data() + r * width : nullptr;
                // alpha_j = e^(tau (s_j - max)) / Z, Z in double.
                double maximum = 0, z = 0;
                if (in_double) {
                    maximum = *std::max_element(row_d, row_d + width);
                    for (std::int64_t j = 0; j < width; ++j) z += std::exp(settings.tau * (row_d[j] - maximum));
                } else {
                    float m = 0;
                    z = math::softmax_normaliser(row_f, width, settings.tau, &m);
                    maximum = m;
                }
                selector.reset(top, in_double ? 1e-7f : 0.0f);
                selector.scan(row_f, width, 0);
                selector.finish(best, [&](std::int64_t j) { return in_double ? row_d[j] : double(row_f[j]); }, width);
                Neighbours& entry = found[static_cast<std::size_t>(r)];
                entry.query_id = block_ids[static_cast<std::size_t>(r)];
                entry.source_ids.clear();
                entry.weights.clear();
                for (const auto& b : best) {
                    entry.source_ids.push_back(sources.ids[static_cast<std::size_t>(b.column)]);
                    const double x = in_double ? settings.tau * (b.value - maximum)
                                               : static_cast<double>(static_cast<float>(settings.tau) *
                                                                     (static_cast<float>(b.value) - static_cast<float>(maximum)));
                    entry.weights.push_back((in_double ? std::exp(x) : double(math::exp_nonpositive(static_cast<float>(x)))) / z);
                }
            }
        });
        for (std::int64_t r = 0; r < n; ++r) visit(found[static_cast<std::size_t>(r)]);
    }
}

Inputs read_inputs(const std::string& classifier, const std::string& protos, const std::string& reader) {
    Inputs inputs;
    h5::InputFile classifier_file(classifier);
    inputs.classifier = read_single_classifier(classifier_file, reader);
    if (inputs.classifier.extended())
        log::warn("{}: its per-class scales and bias are not carried into the composed rows", classifier);
    h5::InputFile prototypes_file(protos);
    inputs.prototypes = read_prototypes(prototypes_file);
    return inputs;
}

std::string output_path(const std::string& pattern, std::int64_t k, double tau) {
    return cli::fill_pattern(pattern, {{"{k}", std::to_string(k)}, {"{tau}", cli::pattern_value(tau)}});
}

void Options::add_to(CLI::App& app) {
    app.add_option("--classifier", classifier, "Classifier or model file (its /classifier); '-' = stdin")
        ->required()
        ->type_name("FILE");
    app.add_option("--protos", protos, "Prototypes file (lt-protos); '-' = stdin")->required()->type_name("FILE");
    output.add_to(app, "Composed classifier to write ('-' = stdout); with several -k or --tau values a pattern "
                       "with {k} and/or {tau}");
    values.add_to(app);
    app.add_option("--block-rows", block_rows, "Classes composed at a time (0 = as many as 64 MiB of scores hold)")
        ->check(cli::NonNegative)
        ->type_name("N")
        ->capture_default_str();
}

std::vector<CLI::Option*> SweepOptions::add_to(CLI::App& app) {
    std::vector<CLI::Option*> added;
    added.push_back(app.add_option("-k", ks, "Source classes are those with more than K training samples; a list "
                                             "K,K,... gives one classifier per value")
                        ->type_name("K[,K...]")
                        ->capture_default_str());
    added.push_back(
        app.add_option("--tau", taus, "Attention temperature (a multiplier of the cosine); a list T,T,... as for -k")
            ->type_name("T[,T...]")
            ->capture_default_str());
    added.push_back(app.add_option("--mode", mode, "Query and key/value roles: prototype->classifier, ...")
                        ->check(CLI::IsMember({"p2w", "w2p", "w2w", "p2p"}))
                        ->capture_default_str());
    auto* terms_option = app.add_option("--terms", terms, "Unit vectors summed per class: subset of kt,p,w (Eq. 7)")
                             ->capture_default_str();
    added.push_back(terms_option);
    added.push_back(app.add_flag("--continual", continual, "Same as --terms kt,p (Eq. 9): also builds rows for new classes")
                        ->excludes(terms_option));
    return added;
}

Sweep SweepOptions::sweep(std::int64_t block_rows) const {
    Sweep sweep;
    sweep.ks = parse_ks(ks);
    sweep.taus = parse_taus(taus);
    sweep.mode = mode;
    sweep.terms = parse_terms(continual ? "kt,p" : terms);
    sweep.block_rows = block_rows;
    check_sweep(sweep);
    return sweep;
}

void run(const Options& options, const Compute& compute) {
    const math::Backend& backend = math::use(compute);
    cli::require_one_stdin_input({{"--classifier", options.classifier}, {"--protos", options.protos}});
    const Sweep sweep = options.values.sweep(options.block_rows);
    const std::string& pattern = options.output.path;
    cli::require_placeholder(pattern, "{k}", sweep.ks.size(), "-k", "wh{k}.h5");
    cli::require_placeholder(pattern, "{tau}", sweep.taus.size(), "--tau", "wh{k}-tau{tau}.h5");

    const Inputs inputs = read_inputs(options.classifier, options.protos, "lt-attend");
    const Classifier& classifier = inputs.classifier;
    const Prototypes& prototypes = inputs.prototypes;
    // Every output is built at once, in its temporary file, and renamed into
    // place only when all are complete.
    std::vector<std::unique_ptr<h5::OutputFile>> outputs;
    std::vector<std::unique_ptr<ClassifierWriter>> writers;
    const std::int64_t rows = static_cast<std::int64_t>(union_ids(classifier.class_ids, prototypes.class_ids).size());
    for (std::size_t v = 0; v < sweep.size(); ++v) {
        const Settings settings = sweep.at(v);
        outputs.push_back(std::make_unique<h5::OutputFile>(output_path(pattern, settings.k, settings.tau), "classifier"));
        writers.push_back(std::make_unique<ClassifierWriter>(*outputs.back(), classifier.weights.cols, rows));
    }
    auto sink = [&](std::size_t v, std::int64_t, std::int64_t count, const float* values) {
        writers[v]->append(values, count);
    };
    const std::vector<Classifier> composed = compose_sweep(classifier, prototypes, sweep, backend, sink);
    std::vector<h5::OutputFile*> files;
    for (std::size_t v = 0; v < sweep.size(); ++v) {
        writers[v]->finish(composed[v]);
        files.push_back(outputs[v].get());
    }
    h5::commit_together(files);
}

}  // namespace lt::attend
