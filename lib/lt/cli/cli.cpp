#include "lt/cli/cli.hpp"

#include "lt/base/error.hpp"
#include "lt/base/launch.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/base/version.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/provenance.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <set>
#include <thread>

namespace lt::cli {

namespace {

// CLI11 starts a description on the option's own line whenever the option
// leaves it room, even a single space; here an option that reaches the
// column always puts its description on the next line, so that at least two
// spaces separate the columns (readers and tests/lib/options_walk.py rely on
// that).
class HelpFormatter : public CLI::Formatter {
public:
    std::string make_option(const CLI::Option* option, bool is_positional) const override {
        const std::string name = "  " + make_option_name(option, is_positional) + make_option_opts(option);
        const std::string description = make_option_desc(option);
        const std::string indent(column_width_, ' ');
        std::string line = name;
        if (!description.empty()) {
            line += name.size() + 2 > column_width_ ? "\n" + indent : std::string(column_width_ - name.size(), ' ');
            for (const char c : description) line += c == '\n' ? "\n" + indent : std::string(1, c);
        }
        return line + "\n";
    }
};

std::string shell_quote(const std::string& word) {
    if (!word.empty() && word.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
            std::string::npos)
        return word;
    std::string quoted = "'";
    for (char c : word) quoted += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

// Collapses CLI11's multi-line messages into one line.
std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

int fail(int status, const std::string& what, const std::string& hint = {}) {
    std::string line = log::tool() + ": error: " + one_line(what);
    if (!hint.empty()) line += " (hint: " + hint + ")";
    std::fprintf(stderr, "%s\n", line.c_str());
    return status;
}

// An error of the command line. Every process of a launched job parses the
// same one, so only rank 0 prints it; the others leave with the same status.
int fail_usage(const std::string& what, const std::string& hint) {
    try {
        const dist::Launch launch = dist::read_launch();
        if (launch.distributed() && launch.rank > 0) return 2;
    } catch (const UsageError&) {
        // A launch the tool refuses anyway: every process says why.
    }
    return fail(2, what, hint);
}

// 0 when everything written to standard output reached it; otherwise the
// error line and 1, as for any output that could not be written (a full
// disk). The reason is known when the last write is the one that fails.
int stdout_status() {
    const bool flushed = std::fflush(stdout) == 0;
    if (flushed && !std::ferror(stdout)) return 0;
    const int error = flushed ? 0 : errno;
    return fail(1, error ? fmt::format("cannot write to standard output: {}", std::strerror(error))
                         : "cannot write to standard output");
}

// --help and --version: their text is output as data is.
int print_text(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
        const int error = errno;
        return fail(1, fmt::format("cannot write to standard output: {}", std::strerror(error)));
    }
    return stdout_status();
}

// CLI11 reads an integer with strtoll, which saturates a value beyond 64
// bits silently (--many 99999999999999999999 was 9223372036854775807). A
// plain decimal integer given to any option is range-checked here (a string
// option, --pair 02084071, is not hurt: no name has 20 digits); what is not
// one (a path, 1e3, 0.5) is left to the option's own conversion.
const CLI::Validator kPlainInteger(
    [](std::string& text) -> std::string {
        const std::size_t sign = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
        if (text.size() == sign ||
            !std::all_of(text.begin() + static_cast<std::ptrdiff_t>(sign), text.end(),
                         [](char c) { return c >= '0' && c <= '9'; }))
            return {};
        std::int64_t value = 0;
        const auto parsed = std::from_chars(text.data() + (text[0] == '+'), text.data() + text.size(), value);
        if (parsed.ec == std::errc::result_out_of_range)
            return "'" + text + "' is beyond the 64-bit integers (-9223372036854775808 to 9223372036854775807)";
        return {};
    },
    "", "");

// kPlainInteger on every option that takes a value, of app and its subcommands.
void check_plain_integers(CLI::App& app) {
    for (CLI::Option* option : app.get_options())
        if (option->nonpositional() && option->get_type_size_max() > 0) option->check(kPlainInteger);
    for (CLI::App* command : app.get_subcommands({})) check_plain_integers(*command);
}

// LibTorch's errors carry a backtrace after the message: keep the first line.
std::string first_line(const std::string& message) {
    auto end = message.find('\n');
    return end == std::string::npos ? message : message.substr(0, end);
}

}  // namespace

namespace {
CLI::Validator number_check(const char* name, bool (*accept)(double), const char* requirement) {
    return CLI::Validator(
        [accept, requirement](std::string& text) -> std::string {
            double value = 0;
            if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value))
                return "'" + text + "' is not a finite number";
            if (!accept(value)) return std::string("must be ") + requirement + ", got " + text;
            return {};
        },
        "", name);
}
}  // namespace

const CLI::Validator NonNegative =
    number_check("NONNEGATIVE", [](double value) { return value >= 0; }, ">= 0");
const CLI::Validator Positive = number_check("POSITIVE", [](double value) { return value > 0; }, "> 0");
const CLI::Validator OutputPath(
    [](std::string& path) -> std::string { return path.empty() ? "the path is empty" : std::string(); }, "", "PATH");
const CLI::Validator ImageSide = number_check(
    "SIDE", [](double value) { return value == 0 || (value >= 8 && value <= 4096); }, "0 (the default) or 8 to 4096");

void CommonOptions::add_to(CLI::App& app) {
    app.add_flag("-q,--quiet", quiet, "Print nothing but data and errors");
    app.add_flag("-v,--verbose", verbose, "Print more about what is done (repeatable)");
    app.add_flag("--hdf5-errors", hdf5_errors, "Print the HDF5 library's error stack too");
}

void CommonOptions::apply() const {
    log::set_level(quiet ? 0 : 1 + verbose);
    // run_tool() silenced HDF5's own error stack before parsing; this turns
    // it back on for debugging.
    if (hdf5_errors) H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr);
}

void ProgressOptions::add_to(CLI::App& app) {
    app.add_option("--progress-interval", interval,
                   "Seconds between progress lines when stderr is not a terminal (0 = none)")
        ->check(NonNegative)
        ->type_name("S")
        ->capture_default_str();
}

void ProgressOptions::apply() const { set_progress_interval(interval); }

void report_error(const Error& error) { fail(1, error.what(), error.hint()); }

void OutputOption::add_to(CLI::App& app, const std::string& what) {
    app.add_option("-o,--output", path, what)->required()->check(OutputPath)->type_name("PATH");
}

void ComputeOptions::add_to(CLI::App& app, unsigned parts) {
    app.add_option("--threads", threads, "CPU threads (0 = all cores)")->check(NonNegative)->capture_default_str();
    if (parts & kDevice)
        app.add_option("--device", device, "Where matrices are computed (auto: cuda when this build has it and a "
                                            "GPU is visible)")
            ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
            ->capture_default_str();
    if (parts & kWorkers)
        app.add_option("--workers", workers, "Image decoding threads (0 = as many as --threads)")
            ->check(NonNegative)
            ->capture_default_str();
    if (parts & kPrecision) {
        app.add_option("--amp", amp,
                       "Mixed precision: autocast to bf16 or fp16 (fp16: cuda only, with loss scaling); features "
                       "and models stay float32")
            ->check(CLI::IsMember({"off", "bf16", "fp16"}))
            ->capture_default_str();
        app.add_flag("--no-tf32", no_tf32,
                     "On cuda, full float32 matrix products and convolutions (closer to the cpu's results)");
        app.add_flag("--deterministic", deterministic,
                     "On cuda, only cuDNN's deterministic algorithms and no autotuning (slower)");
    }
}

namespace {
// The cores this process may run on (taskset, cgroup cpusets and srun's
// binding narrow them), shared out among the processes a launcher started on
// this machine (torchrun's LOCAL_WORLD_SIZE): several ranks of one job on one
// machine would otherwise each start a thread per core.
int available_cores() {
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : static_cast<int>(std::thread::hardware_concurrency());
    if (const char* local_world = std::getenv("LOCAL_WORLD_SIZE")) {
        const int processes = std::atoi(local_world);
        if (processes > 1) cores /= processes;
    }
    return std::max(cores, 1);
}
}  // namespace

Compute ComputeOptions::resolve() const {
    Compute compute;
    compute.threads = threads > 0 ? threads : available_cores();
    compute.workers = workers > 0 ? workers : compute.threads;
    compute.device = device;
    compute.amp = amp;
    compute.tf32 = !no_tf32;
    compute.deterministic = deterministic;
    return compute;
}

void add_group_thresholds(CLI::App& app, GroupThresholds& thresholds) {
    app.add_option("--many", thresholds.many, "Many-shot classes have more than this many training samples")
        ->check(NonNegative)
        ->capture_default_str();
    app.add_option("--few", thresholds.few, "Few-shot classes have fewer than this many training samples")
        ->check(NonNegative)
        ->capture_default_str();
}

void SeedOption::add_to(CLI::App& app) {
    // Digits only: the parser would wrap -1 and saturate what is too large,
    // and the seed is stored as a signed 64-bit attribute.
    const CLI::Validator seed_check(
        [](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.size() <= 19 &&
                                text.find_first_not_of("0123456789") == std::string::npos;
            if (!digits || std::stoull(text) > static_cast<unsigned long long>(INT64_MAX))
                return "must be an integer from 0 to 9223372036854775807, got " + text;
            return {};
        },
        "", "SEED");
    app.add_option("--seed", seed, "Random seed (same seed on CPU gives identical output)")
        ->check(seed_check)
        ->capture_default_str();
}

// The value of an option the tool may have (--seed, --device), for provenance.
std::string option_value(const CLI::App& app, const std::string& name) {
    const CLI::Option* option = app.get_option_no_throw(name);
    if (!option) return {};
    return option->count() ? option->as<std::string>() : option->get_default_str();
}

namespace {

std::vector<std::pair<std::string, std::string>> deprecated_spellings;

// The arguments for CLI11 (reversed, without the program name), with every
// deprecated spelling replaced by the current one and a warning for each.
std::vector<std::string> new_spellings(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = argc - 1; i > 0; --i) {
        std::string arg = argv[i];
        for (const auto& [old_name, new_name] : deprecated_spellings) {
            if (arg == old_name || arg.rfind(old_name + "=", 0) == 0) {
                log::warn("{} is deprecated; use {}", old_name, new_name);
                arg = new_name + arg.substr(old_name.size());
            }
        }
        args.push_back(arg);
    }
    return args;
}

}  // namespace

void register_deprecated_spelling(const std::string& old_name, const std::string& new_name) {
    deprecated_spellings.emplace_back(old_name, new_name);
}

int run_tool(int argc, char** argv, const ToolInfo& info, const std::function<void(CLI::App&)>& setup,
             const std::function<void(const Compute&)>& run) {
    log::set_tool(info.name);
    // Outputs are closed explicitly (and committed, or removed). HDF5's own
    // clean-up at exit would only close again a file whose closing failed
    // (a full disk), and crashes on it; it must be declined before any other
    // HDF5 call.
    H5dont_atexit();
    // HDF5 prints its error stack unless told not to; --hdf5-errors re-enables it.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    std::string command_line;
    for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + shell_quote(argv[i]);
    CommonOptions common;
    ComputeOptions compute;
    ProgressOptions progress;

    CLI::App app(info.summary, info.name);
    app.set_version_flag("--version", fmt::format("{} {} (commit {})", info.name, version(), git_commit()));
    std::string footer;
    if (!info.examples.empty()) footer += "Examples:\n" + info.examples;
    if (!info.see_also.empty()) footer += "\nSee also: " + info.see_also + "\n";
    app.footer(footer);
    app.formatter(std::make_shared<HelpFormatter>());
    app.get_formatter()->column_width(34);
    try {
        setup(app);
        compute.add_to(app, info.compute);
        if (info.compute & kProgress) progress.add_to(app);
        common.add_to(app);
        check_plain_integers(app);
        app.parse(new_spellings(argc, argv));
    } catch (const CLI::CallForHelp&) {
        return print_text(app.help());
    } catch (const CLI::CallForAllHelp&) {
        return print_text(app.help("", CLI::AppFormatMode::All));
    } catch (const CLI::CallForVersion&) {
        return print_text(app.version() + "\n");
    } catch (const CLI::ConfigError& error) {
        // CLI11 says "INI was not able to parse KEY" of a key no option has.
        const std::string what = error.what(), prefix = "INI was not able to parse ";
        if (what.rfind(prefix, 0) != 0) return fail_usage(what, "see " + info.name + " --help");
        return fail_usage(fmt::format("--config: '{}' is not an option of {}", what.substr(prefix.size()), info.name),
                          "a recipe sets options by their long names, as in batch-size = 128");
    } catch (const CLI::ParseError& error) {
        return fail_usage(error.what(), "see " + info.name + " --help");
    }
    try {
        h5::install_cleanup_on_signals();
        common.apply();
        if (info.compute & kProgress) progress.apply();
        h5::set_invocation({command_line, app.config_to_str(/*default_also=*/true, /*write_description=*/false),
                            option_value(app, "--seed"), option_value(app, "--device")});
        run(compute.resolve());
        return stdout_status();
    } catch (const AlreadyReported& reported) {
        std::fflush(stdout);
        return reported.status;
    } catch (const ReportedElsewhere&) {
        return 1;
    } catch (const UsageError& error) {
        return fail(2, error.what(), error.hint().empty() ? "see " + info.name + " --help" : error.hint());
    } catch (const Error& error) {
        return fail(1, error.what(), error.hint());
    } catch (const std::bad_alloc&) {
        return fail(1, "out of memory", "free memory, or give a smaller --block-rows where the tool has one");
    } catch (const std::exception& error) {
        return fail(1, first_line(error.what()));
    }
}

}  // namespace lt::cli

// ---------------------------------------------------------------- value lists and output patterns

namespace lt::cli {

namespace {

std::vector<std::string> split_list(const std::string& text, const std::string& option) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (true) {
        std::size_t comma = text.find(',', start);
        items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    for (const auto& item : items)
        if (item.empty()) throw UsageError(fmt::format("{}: empty value in '{}'", option, text));
    return items;
}

// By value, not by spelling: 1 and 01, or 0.5 and .5, are one value (and
// would name one output file).
template <typename Value>
void check_no_value_twice(const std::vector<Value>& values, const std::vector<std::string>& items,
                          const std::string& option) {
    for (std::size_t i = 0; i < values.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (values[j] == values[i])
                throw UsageError(items[j] == items[i]
                                     ? fmt::format("{}: {} is given twice", option, items[i])
                                     : fmt::format("{}: {} is given twice (as {} and {})", option,
                                                   fmt::format("{}", values[i]), items[j], items[i]));
}

}  // namespace

std::vector<std::int64_t> parse_integer_list(const std::string& text, const std::string& option,
                                             std::int64_t minimum) {
    std::vector<std::int64_t> values;
    const std::vector<std::string> items = split_list(text, option);
    for (const auto& item : items) {
        std::size_t used = 0;
        long long value = minimum - 1;
        try {
            value = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || value < minimum)
            throw UsageError(fmt::format("{}: '{}' is not an integer >= {}", option, item, minimum));
        values.push_back(value);
    }
    check_no_value_twice(values, items, option);
    return values;
}

std::vector<double> parse_number_list(const std::string& text, const std::string& option, double minimum) {
    std::vector<double> values;
    const std::vector<std::string> items = split_list(text, option);
    for (const auto& item : items) {
        std::size_t used = 0;
        double value = minimum - 1;
        try {
            value = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || !std::isfinite(value) || value < minimum)
            throw UsageError(fmt::format("{}: '{}' is not a finite number >= {}", option, item, minimum));
        values.push_back(value);
    }
    check_no_value_twice(values, items, option);
    return values;
}

void require_placeholder(const std::string& pattern, const std::string& placeholder, std::size_t values,
                         const std::string& option, const std::string& example) {
    if (values > 1 && pattern.find(placeholder) == std::string::npos)
        throw UsageError(fmt::format("-o must contain {} when {} has several values (got -o {})", placeholder, option,
                                     pattern),
                         "e.g. -o '" + example + "'");
}

std::string fill_pattern(const std::string& pattern,
                         const std::vector<std::pair<std::string, std::string>>& values) {
    std::string path = pattern;
    for (const auto& [name, value] : values)
        for (std::size_t at = path.find(name); at != std::string::npos; at = path.find(name, at + value.size()))
            path.replace(at, name.size(), value);
    return path;
}

std::string pattern_value(double value) { return fmt::format("{}", value); }

void require_one_standard_input(const std::vector<std::pair<std::string, std::string>>& inputs) {
    const std::pair<std::string, std::string>* first = nullptr;
    for (const auto& input : inputs) {
        if (input.second != "-") continue;
        if (first)
            throw UsageError(fmt::format("{} and {} cannot both be read from stdin", first->first, input.first),
                             "give one of them a file");
        first = &input;
    }
}

void require_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::error_code ignored;
    for (std::size_t i = 0; i < outputs.size(); ++i)
        for (std::size_t j = 0; j < i; ++j) {
            const auto& [first_option, first] = outputs[j];
            const auto& [option, path] = outputs[i];
            if (path.empty() || first.empty()) continue;
            // Two outputs to stdout would interleave into one unreadable stream.
            if (path == "-" && first == "-")
                throw UsageError(fmt::format("{} and {} cannot both be written to stdout", first_option, option),
                                 "give one of them a file");
            if (path == "-" || first == "-") continue;
            // A device (/dev/null) takes any number of outputs.
            if (std::filesystem::is_character_file(path, ignored)) continue;
            if (std::filesystem::weakly_canonical(path, ignored) == std::filesystem::weakly_canonical(first, ignored))
                throw UsageError(fmt::format("{} and {} name the same file ({})", first_option, option, path),
                                 "give each output its own file");
        }
}

void require_one_stdin_input(const std::vector<std::pair<std::string, std::string>>& inputs) {
    const std::pair<std::string, std::string>* first = nullptr;
    for (const auto& input : inputs) {
        if (input.second != "-") continue;
        if (first) throw UsageError(fmt::format("{} and {} cannot both be read from stdin", first->first, input.first));
        first = &input;
    }
}

}  // namespace lt::cli
