// Whole-file outputs that are never seen half-written: the bytes go to a
// temporary file in the same folder (temporary_path), which is then renamed
// over <path>. A failed write removes the temporary, and an existing file is
// only ever replaced by a complete new one. lt::h5::OutputFile uses the same
// temporary names.
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

// The temporary name used for path by this process:
// "<folder>/.<name>.tmp.<host>.<pid>" (hidden; host and pid say whose it is).
std::string temporary_path(const std::string& path);

// Removes the temporaries of path left by processes of this host that are no
// longer running (a SIGKILL cannot be caught, so a killed tool leaves its
// temporary behind). Temporaries of live processes and other hosts (shared
// file systems) are left alone.
void remove_stale_temporaries(const std::string& path);

}  // namespace lt
