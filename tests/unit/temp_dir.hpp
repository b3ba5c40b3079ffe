// A temporary folder for a test, removed with its content at scope exit.
#pragma once

#include <filesystem>
#include <random>
#include <string>

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::random_device entropy;
        path = std::filesystem::temp_directory_path() / ("lt-test-" + std::to_string(entropy()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};
