// What every tool shares: the option groups, the help layout and the one
// place where exceptions become an error line and an exit status.
//
//   int main(int argc, char** argv) {
//       lt::EvalOptions options;
//       return lt::cli::run_tool(argc, argv, info,
//           [&](CLI::App& app) { options.add_to(app); },
//           [&](const lt::Compute& compute) { lt::eval::run(options, compute); });
//   }
//
// Exit status: 0 success, 1 runtime/data error, 2 usage error. Errors are one
// line on stderr: "lt-<tool>: error: <what> (hint: ...)".
#pragma once

#include "lt/base/compute.hpp"
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace lt::cli {

// Which shared options a tool offers besides --threads (which every tool
// has): --device, --workers, --progress-interval for tools with long steps
// (training, extraction, checking images), and --amp, --no-tf32 and
// --deterministic for the tools that run networks (lt-train, lt-extract).
enum ComputeParts : unsigned { kThreadsOnly = 0, kDevice = 1, kWorkers = 2, kProgress = 4, kPrecision = 8 };

struct ToolInfo {
    std::string name;      // "lt-eval"
    std::string summary;   // one line
    std::string examples;  // lines of "  $ command" with a short comment; one uses a pipe
    std::string see_also;  // "lt-protos(1), lt-h5(5)"
    unsigned compute = kThreadsOnly;
};

// --quiet, --verbose, --hdf5-errors: on every tool.
struct CommonOptions {
    bool quiet = false;
    int verbose = 0;
    bool hdf5_errors = false;
    void add_to(CLI::App& app);
    void apply() const;  // sets the log level and HDF5 error printing
};

// --threads (every tool), --device, --workers and the precision options
// (where the tool has them), with one default each. resolve() turns 0 into
// counts: threads 0 = all cores, workers 0 = as many as threads.
struct ComputeOptions {
    int threads = 0;
    std::string device = "auto";
    int workers = 0;
    std::string amp = "off";
    bool no_tf32 = false;
    bool deterministic = false;
    void add_to(CLI::App& app, unsigned parts);
    Compute resolve() const;
};

// --progress-interval S: seconds between progress lines when stderr is not
// a terminal (0 = none); applied to lt/base/progress.hpp's process-wide setting.
struct ProgressOptions {
    double interval = 30;
    void add_to(CLI::App& app);
    void apply() const;
};

// The check of every option that names a file to write (-o and the others,
// in every tool): an empty path is a usage error ("--per-class: the path is
// empty") when the options are read, not a silently skipped output.
extern const CLI::Validator OutputPath;

// -o/--output PATH ("-" = stdout).
struct OutputOption {
    std::string path;
    void add_to(CLI::App& app, const std::string& what = "output file ('-' = stdout)");
};

// --seed N where randomness is involved.
struct SeedOption {
    std::uint64_t seed = 0;
    void add_to(CLI::App& app);
};

// --many N --few N: the shot-group thresholds (lt/base/groups.hpp).
void add_group_thresholds(CLI::App& app, GroupThresholds& thresholds);

// Number checks with short messages ("must be >= 0, got -3"); CLI11's own
// print the whole double range.
extern const CLI::Validator NonNegative;
extern const CLI::Validator Positive;
// --image-size: 0 (the model's or the preset's) or a side from 8 to 4096 px.
extern const CLI::Validator ImageSide;

// An old spelling of an option, kept working and not shown in --help. On the
// command line the runner replaces it by the new spelling before parsing (so
// the new option's checks apply) and warns once; in a config file (--config)
// it sets the same variable and warns.
void register_deprecated_spelling(const std::string& old_name, const std::string& new_name);
template <class T>
CLI::Option* add_deprecated_alias(CLI::App& app, const std::string& old_name, const std::string& new_name,
                                  T& variable) {
    register_deprecated_spelling(old_name, new_name);
    return app.add_option(old_name, variable)
        ->group("")
        ->each([old_name, new_name](const std::string&) { log::warn("{} is deprecated; use {}", old_name, new_name); });
}

// Thrown by a tool that has already printed its error lines (one per failed
// input, with report_error): run_tool exits with the status, printing nothing more.
struct AlreadyReported {
    int status = 1;
};

// Prints "lt-<tool>: error: <what> (hint: <hint>)", the one format of error lines.
void report_error(const Error& error);

// Parses, runs and maps errors to exit codes. setup registers the tool's own
// options; run does the work with the resolved compute options. Never throws.
int run_tool(int argc, char** argv, const ToolInfo& info, const std::function<void(CLI::App&)>& setup,
             const std::function<void(const Compute&)>& run);

}  // namespace lt::cli

namespace lt::cli {

// Options that take a list of values and write one output per value (lt-attend's
// -k and --tau, lt-adjust's -p and -T): "0,5,10", no empty or repeated
// values, each >= minimum; the output pattern names each value by a
// placeholder ("-o 'wh{k}.h5'").
std::vector<std::int64_t> parse_integer_list(const std::string& text, const std::string& option,
                                             std::int64_t minimum = 0);
std::vector<double> parse_number_list(const std::string& text, const std::string& option, double minimum = 0);
// A usage error when a list has several values and the pattern lacks its placeholder.
void require_placeholder(const std::string& pattern, const std::string& placeholder, std::size_t values,
                         const std::string& option, const std::string& example);
// The pattern with every placeholder replaced by its value ({"{k}", "20"}).
std::string fill_pattern(const std::string& pattern,
                         const std::vector<std::pair<std::string, std::string>>& values);
// How a value is written into a path: the shortest text that reads back the same (0.5, 10).
std::string pattern_value(double value);

// A usage error when two output options ({option, path}) name one file, before
// any work is done (writing would find it only at the end), or when two are
// "-" (stdout). Empty paths are skipped, and so are devices (/dev/null).
void require_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

// A usage error when two input options ({option, path}) are "-": standard
// input feeds one, and the first reader would take the other's bytes (a
// model file read as a list). Readers claim it too (claim_standard_input);
// this says it before anything is read.
void require_one_standard_input(const std::vector<std::pair<std::string, std::string>>& inputs);

// A usage error when two inputs ({option, path}) are both "-": standard input
// can be read once. Checked before anything is read (the second reader would
// otherwise find it empty, a data error that hides the usage one).
void require_one_stdin_input(const std::vector<std::pair<std::string, std::string>>& inputs);

}  // namespace lt::cli
