#include "lt/base/atomic_file.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lt {

namespace {

std::string system_reason() { return std::strerror(errno); }

std::string folder_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string name_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The host name without dots, so "<host>.<pid>" splits at the last dot.
std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    std::string host(name);
    for (char& c : host)
        if (c == '.' || c == '/') c = '_';
    return host;
}

// ".<name>.tmp.<host>." : the start of every temporary of path on this host.
std::string temporary_prefix(const std::string& path) {
    return fmt::format(".{}.tmp.{}.", name_of(path), host_name());
}

}  // namespace

std::string temporary_path(const std::string& path) {
    return fmt::format("{}/{}{}", folder_of(path), temporary_prefix(path), static_cast<long>(::getpid()));
}

void remove_stale_temporaries(const std::string& path) {
    std::string folder = folder_of(path), prefix = temporary_prefix(path);
    DIR* directory = opendir(folder.c_str());
    if (!directory) return;  // writing will report the problem
    while (const dirent* entry = readdir(directory)) {
        std::string name = entry->d_name;
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        std::string digits = name.substr(prefix.size());
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        long pid = std::strtol(digits.c_str(), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
            unlink((folder + "/" + name).c_str());
    }
    closedir(directory);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    if (path.empty()) throw Error("empty output path");
    remove_stale_temporaries(path);
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
