// The readers under test take paths, as the tools do: each input is written
// to one scratch file per process (in TMPDIR, ideally a tmpfs).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace lt::fuzz {

inline const std::string& write_input(const std::uint8_t* data, std::size_t size) {
    static const std::string path = [] {
        const char* folder = std::getenv("TMPDIR");
        return std::string(folder && *folder ? folder : "/tmp") + "/lt-fuzz-input." + std::to_string(getpid());
    }();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
        std::perror(path.c_str());
        std::abort();
    }
    return path;
}

}  // namespace lt::fuzz
