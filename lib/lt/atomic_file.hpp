// Whole-file outputs that are never seen half-written: the bytes go to
// "<path>.tmp.<pid>" in the same folder, which is then renamed over <path>.
// A failed write removes the temporary, and an existing file is only ever
// replaced by a complete new one.
#pragma once

#include <string>
#include <string_view>

namespace lt {

// Writes any bytes (a PNG, a list file, ...) atomically. Throws lt::Error
// naming the path when the folder is missing, the disk is full, etc.
void write_file_atomically(const std::string& path, std::string_view bytes);

// The same for text outputs; the name says what is written.
inline void write_text_atomically(const std::string& path, std::string_view content) {
    write_file_atomically(path, content);
}

// Writes to standard output when path is "-", atomically to the file otherwise.
void write_text_output(const std::string& path, std::string_view content);

// The temporary name used for path by this process: "<path>.tmp.<pid>".
std::string temporary_path(const std::string& path);

}  // namespace lt
