#include "lt/atomic_file.hpp"

#include "lt/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace lt {

namespace {

std::string system_reason() { return std::strerror(errno); }

}  // namespace

std::string temporary_path(const std::string& path) {
    return fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    if (path.empty()) throw Error("empty output path");
    std::string temporary = temporary_path(path);
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    if (!file) throw Error(fmt::format("cannot write '{}': {}", path, system_reason()));
    // No fsync: rename already protects against a killed process, which is
    // the failure this guards; syncing thousands of small PNGs costs seconds.
    bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size() &&
                   std::fflush(file) == 0;
    std::string reason = written ? std::string() : system_reason();
    if (std::fclose(file) != 0 && written) {
        written = false;
        reason = system_reason();
    }
    if (!written) {
        std::remove(temporary.c_str());
        throw Error(fmt::format("cannot write '{}': {}", path, reason));
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        reason = system_reason();
        std::remove(temporary.c_str());
        throw Error(fmt::format("cannot write '{}': {}", path, reason));
    }
}

void write_text_output(const std::string& path, std::string_view content) {
    if (path != "-") {
        write_file_atomically(path, content);
        return;
    }
    if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
        std::fflush(stdout) != 0)
        throw Error("cannot write to standard output");
}

}  // namespace lt
