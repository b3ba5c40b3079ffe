// What every tool shares: the option groups, the help layout and the one
// place where exceptions become an error line and an exit status.
//
//   int main(int argc, char** argv) {
//       lt::EvalOptions options;
//       return lt::cli::run_tool(argc, argv, info,
//           [&](CLI::App& app) { options.add_to(app); },
//           [&] { lt::eval::run(options); });
//   }
//
// Exit status: 0 success, 1 runtime/data error, 2 usage error. Errors are one
// line on stderr: "lt-<tool>: error: <what> (hint: ...)".
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace lt::cli {

struct ToolInfo {
    std::string name;      // "lt-eval"
    std::string summary;   // one line
    std::string examples;  // lines of "  $ command" with a short comment; one uses a pipe
    std::string see_also;  // "lt-protos(1), lt-h5(5)"
};

// --quiet, --verbose, --threads, --hdf5-errors: on every tool.
struct CommonOptions {
    bool quiet = false;
    int verbose = 0;
    int threads = 0;  // 0 = all cores
    bool hdf5_errors = false;
    void add_to(CLI::App& app);
    void apply() const;  // sets log level, thread counts, HDF5 error printing
};

// -o/--output PATH ("-" = stdout).
struct OutputOption {
    std::string path;
    void add_to(CLI::App& app, const std::string& what = "output file ('-' = stdout)");
};

// --device cpu|cuda|auto where tensors are computed.
struct DeviceOption {
    std::string device = "auto";
    void add_to(CLI::App& app);
};

// --seed N where randomness is involved.
struct SeedOption {
    std::uint64_t seed = 0;
    void add_to(CLI::App& app);
};

// Number checks with short messages ("must be >= 0, got -3"); CLI11's own
// print the whole double range.
extern const CLI::Validator NonNegative;
extern const CLI::Validator Positive;

// Modules that compute with LibTorch register how to set its thread count
// (lt/tensor.cpp does), which keeps this module free of LibTorch.
using ThreadCountHook = void (*)(int threads);
void set_thread_count_hook(ThreadCountHook hook);

// The common options of the running tool (after parsing), for provenance.
const CommonOptions& common();

// The command line as given, shell-quoted, for provenance.
const std::string& command_line();

// Parses, runs and maps errors to exit codes. setup registers the tool's own
// options; run does the work. Never throws.
int run_tool(int argc, char** argv, const ToolInfo& info,
             const std::function<void(CLI::App&)>& setup, const std::function<void()>& run);

}  // namespace lt::cli
