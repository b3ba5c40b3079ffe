// Error types shared by the library and the tools.
//
// Every tool maps these to exit codes in one place (cli.cpp):
//   UsageError -> 2 (bad or missing option, detected after parsing)
//   Error and everything derived from it -> 1 (runtime or data problem)
//   ReportedElsewhere -> 1, printing nothing (another rank of the job prints it)
// Messages are one line, without the "lt-<tool>: error:" prefix, which the
// tool adds. A hint, when present, is appended as " (hint: ...)".
#pragma once

#include <stdexcept>
#include <string>

namespace lt {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, std::string hint = {})
        : std::runtime_error(what), hint_(std::move(hint)) {}
    const std::string& hint() const { return hint_; }

private:
    std::string hint_;
};

// A file is readable but is not what the reader expects (wrong lt_type, newer
// schema version, missing or mis-shaped dataset, non-finite values, ...).
class SchemaError : public Error {
public:
    using Error::Error;
};

// An option value is invalid in a way CLI11 cannot check on its own.
class UsageError : public Error {
public:
    using Error::Error;
};

// A failure that another process of the same data-parallel job reports (one
// error line per failure, not one per process): exit status 1, no line.
class ReportedElsewhere : public Error {
public:
    using Error::Error;
};

}  // namespace lt
