#include "lt/transfer/adjust.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/lists.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

namespace lt::adjust {

namespace {

double row_norm(const Matrix& weights, std::int64_t row) {
    double sum = 0;
    const float* w = weights.row(row);
    for (std::int64_t d = 0; d < weights.cols; ++d) sum += double(w[d]) * w[d];
    return std::sqrt(sum);
}

// |w|^-P of a zero row is taken as 1: the row scores 0 either way.
double power_of_norm(double norm, double exponent) { return norm > 0 ? std::pow(norm, exponent) : 1.0; }

bool starts_like_hdf5(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char head[8] = {};
    in.read(head, 8);
    return in.gcount() == 8 && std::string(head, 8) == "\x89HDF\r\n\x1a\n";
}

// A large P or T overflows float32; say so in terms of the option, not as
// the writer's internal error.
void check_representable(const Classifier& adjusted, const std::string& option, double value) {
    // values holds `per_class` numbers per class, class after class.
    auto check = [&](const std::vector<float>& values, std::size_t per_class, const char* what) {
        for (std::size_t i = 0; i < values.size(); ++i)
            if (!std::isfinite(values[i]))
                throw Error(fmt::format("{} {}: the {} of class {} overflows float32", option,
                                        cli::pattern_value(value), what, adjusted.class_ids[i / per_class]),
                            "use a smaller value");
    };
    check(adjusted.weights.values, static_cast<std::size_t>(std::max<std::int64_t>(1, adjusted.weights.cols)),
          "weights");
    check(adjusted.bias, 1, "bias");
    check(adjusted.class_scales, 1, "scale");
    // A scale of 0 (|w|^(1-P) underflowed) would score the class 0 whatever the features.
    for (std::size_t c = 0; c < adjusted.class_scales.size(); ++c)
        if (adjusted.class_scales[c] == 0)
            throw Error(fmt::format("{} {}: the scale of class {} underflows float32 to 0", option,
                                    cli::pattern_value(value), adjusted.class_ids[c]),
                        "use a smaller value");
}

}  // namespace

Classifier tau_normalize(const Classifier& classifier, double p) {
    Classifier out = classifier;
    const std::int64_t rows = classifier.weights.rows;
    if (classifier.kind == "linear") {
        for (std::int64_t j = 0; j < rows; ++j) {
            const double norm = row_norm(classifier.weights, j), factor = power_of_norm(norm, -p);
            float* w = out.weights.row(j);
            bool all_zero = true;
            for (std::int64_t d = 0; d < out.weights.cols; ++d) {
                w[d] = static_cast<float>(w[d] * factor);
                all_zero = all_zero && w[d] == 0;
            }
            // A row of zeros would score the class 0 whatever the features (as
            // a cosine class whose scale underflows, refused below).
            if (all_zero && norm > 0)
                throw Error(fmt::format("--tau-norm {}: the weights of class {} underflow float32 to 0",
                                        cli::pattern_value(p), classifier.class_ids[static_cast<std::size_t>(j)]),
                            "use a smaller value");
        }
        out.bias.assign(static_cast<std::size_t>(rows), 0.0f);
    } else {
        out.class_scales.assign(static_cast<std::size_t>(rows), 1.0f);
        for (std::int64_t j = 0; j < rows; ++j) {
            const double before = classifier.class_scales.empty() ? 1.0 : classifier.class_scales[j];
            out.class_scales[j] = static_cast<float>(before * power_of_norm(row_norm(classifier.weights, j), 1.0 - p));
        }
        out.bias.clear();
    }
    out.adjustment = {{"adjust", "tau-norm"}, {"p", cli::pattern_value(p)}};
    return out;
}

std::map<std::int64_t, double> prior_of_counts(const Classifier& classifier) {
    std::map<std::int64_t, double> prior;
    for (std::size_t c = 0; c < classifier.class_ids.size(); ++c)
        prior[classifier.class_ids[c]] = static_cast<double>(classifier.class_counts[c]);
    return prior;
}

std::map<std::int64_t, double> read_prior(const std::string& path) {
    std::map<std::int64_t, double> prior;
    if (path == "-" || starts_like_hdf5(path)) {
        h5::InputFile in(path);
        for (const auto& [id, count] : read_class_counts(in)) prior[id] = static_cast<double>(count);
        return prior;
    }
    std::ifstream in = open_text_input(path, "prior");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        line = line.substr(0, line.find('#'));
        std::istringstream fields(line);
        long long id = -1;
        double weight = 0;
        std::string rest;
        if (!(fields >> id)) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            throw Error(fmt::format("{}:{}: expected 'CLASS_ID WEIGHT'", path, number));
        }
        if (!(fields >> weight) || (fields >> rest) || id < 0 || !std::isfinite(weight) || weight < 0)
            throw Error(fmt::format("{}:{}: expected 'CLASS_ID WEIGHT' with an id >= 0 and a weight >= 0", path,
                                    number));
        if (!prior.emplace(id, weight).second) throw Error(fmt::format("{}:{}: class {} is given twice", path, number, id));
    }
    if (prior.empty()) throw Error(fmt::format("{} holds no prior", path));
    return prior;
}

Classifier logit_adjust(const Classifier& classifier, double t, const std::map<std::int64_t, double>& prior) {
    double total = 0;
    for (auto id : classifier.class_ids) {
        auto found = prior.find(id);
        if (found == prior.end())
            throw Error(fmt::format("the prior has no value for class {}", id), "give a prior for every class");
        if (!(found->second > 0))
            throw Error(fmt::format("class {} has prior 0, and logit adjustment takes log pi", id),
                        "give --prior with a positive weight for every class");
        total += found->second;
    }
    Classifier out = classifier;
    if (out.bias.empty()) out.bias.assign(classifier.class_ids.size(), 0.0f);
    for (std::size_t c = 0; c < classifier.class_ids.size(); ++c)
        out.bias[c] = static_cast<float>(out.bias[c] - t * std::log(prior.at(classifier.class_ids[c]) / total));
    out.adjustment = {{"adjust", "logit-adjust"}, {"t", cli::pattern_value(t)}};
    return out;
}

void Options::add_to(CLI::App& app) {
    app.add_option("--classifier", classifier, "Classifier, model or prototypes file (one classifier); '-' = stdin")
        ->required()
        ->type_name("FILE");
    output.add_to(app, "Adjusted classifier to write ('-' = stdout); with several values a pattern with {p} or {t}");
    auto* tau = app.add_option("-p,--tau-norm", tau_norm,
                               "Tau-normalisation: scores x.w_j/|w_j|^P, bias dropped; a list P,P,... writes one "
                               "classifier per value")
                    ->type_name("P[,P...]");
    auto* logit = app.add_option("-T,--logit-adjust", logit_adjust,
                                 "Logit adjustment: logits - T log pi_j; a list T,T,... as for -p")
                      ->type_name("T[,T...]");
    tau->excludes(logit);
    app.add_option("--prior", prior,
                   "Class prior pi for --logit-adjust: an lt-h5 file with counts, or lines 'CLASS_ID WEIGHT' "
                   "(default: the classifier's training counts)")
        ->type_name("FILE")
        ->needs(logit);
}

void run(const Options& options) {
    if (options.tau_norm.empty() == options.logit_adjust.empty())
        throw UsageError("give one of --tau-norm (-p) and --logit-adjust (-T)");
    const bool tau = !options.tau_norm.empty();
    const std::vector<double> values = tau ? cli::parse_number_list(options.tau_norm, "--tau-norm")
                                           : cli::parse_number_list(options.logit_adjust, "--logit-adjust");
    const std::string placeholder = tau ? "{p}" : "{t}";
    const std::string& pattern = options.output.path;
    cli::require_placeholder(pattern, placeholder, values.size(), tau ? "--tau-norm" : "--logit-adjust",
                             tau ? "tau{p}.h5" : "la{t}.h5");
    cli::require_one_stdin_input({{"--classifier", options.classifier}, {"--prior", options.prior}});

    h5::InputFile classifier_file(options.classifier);
    const Classifier classifier = read_single_classifier(classifier_file, "lt-adjust");
    std::map<std::int64_t, double> prior;
    if (!tau) prior = options.prior.empty() ? prior_of_counts(classifier) : read_prior(options.prior);

    // All outputs are committed together, or none.
    std::vector<std::unique_ptr<h5::OutputFile>> outputs;
    std::vector<h5::OutputFile*> files;
    for (double value : values) {
        Classifier adjusted = tau ? tau_normalize(classifier, value) : logit_adjust(classifier, value, prior);
        check_representable(adjusted, tau ? "--tau-norm" : "--logit-adjust", value);
        if (!tau) adjusted.adjustment["prior"] = options.prior.empty() ? "training counts" : options.prior;
        outputs.push_back(std::make_unique<h5::OutputFile>(
            cli::fill_pattern(pattern, {{placeholder, cli::pattern_value(value)}}), "classifier"));
        write_classifier_group(*outputs.back(), adjusted);
        files.push_back(outputs.back().get());
    }
    h5::commit_together(files);
}

}  // namespace lt::adjust
