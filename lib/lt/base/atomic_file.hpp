// Whole-file outputs that are never seen half-written: the bytes go to a
// temporary file in the same folder (temporary_path), which is then renamed
// over <path>. A failed write removes the temporary, and an existing file is
// only ever replaced by a complete new one. lt::h5::OutputFile uses the same
// temporary names.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lt {

// Where an output path leads once symbolic links are followed. A regular
// file (or none yet) is replaced atomically at its real path, so a link
// stays a link. A device, FIFO or socket cannot be replaced: it is opened
// and written as it is (direct), so -o /dev/null discards the output and
// never replaces /dev/null.
struct OutputTarget {
    std::string path;
    bool direct = false;
};
OutputTarget resolve_output(const std::string& path);

// Writes bytes to path opened as it is (an OutputTarget that is direct);
// messages name shown_as.
void write_directly(const std::string& path, std::string_view bytes, const std::string& shown_as);

// Writes any bytes (a PNG, a list file, ...) atomically (or directly, see
// OutputTarget). Throws lt::Error naming the path when the folder is
// missing, the disk is full, etc.
void write_file_atomically(const std::string& path, std::string_view bytes);

// The same for text outputs; the name says what is written.
inline void write_text_atomically(const std::string& path, std::string_view content) {
    write_file_atomically(path, content);
}

// Writes to standard output when path is "-", atomically to the file otherwise.
void write_text_output(const std::string& path, std::string_view content);

// Several text outputs ({path, content}) of one run, all or none: every file
// is written to its temporary first, then all are renamed into place ("-"
// goes to standard output last).
void write_text_outputs_together(const std::vector<std::pair<std::string, std::string>>& outputs);

// The temporary name used for path by this process:
// "<folder>/.<name>.tmp.<host>.<pid>" (hidden; host and pid say whose it is).
std::string temporary_path(const std::string& path);

// Removes the temporaries of path left by processes of this host that are no
// longer running (a SIGKILL cannot be caught, so a killed tool leaves its
// temporary behind). Temporaries of live processes and other hosts (shared
// file systems) are left alone.
void remove_stale_temporaries(const std::string& path);

// The temporaries of this process's outputs not yet renamed into place,
// which remove_registered_temporaries() deletes (async-signal-safe: the
// signal handler of h5::install_cleanup_on_signals calls it). Registering
// the temporary of an output of this run that is still being written, or of
// a file this run reads (protect_input), is a UsageError naming path: two
// outputs of one run cannot be one file, and an output never replaces an
// input by mistake.
void register_temporary(const std::string& temporary, const std::string& path);
void unregister_temporary(const std::string& temporary);
void remove_registered_temporaries();

// A file this run reads (h5::InputFile calls it for each file it opens).
void protect_input(const std::string& path);
// Standard input feeds one input of a run: each reader of "-" claims it
// first, saying what it reads it as ("a list"); a second claim is a
// UsageError naming both (--model - --list - would read the model's bytes
// as the list).
void claim_standard_input(const std::string& as);
// An output that is meant to replace its input: lt-train --resume updates
// its checkpoint.
void allow_replacing(const std::string& path);
// Throws UsageError when path is a protected input (the same file, by
// device and inode, whatever the spelling).
void check_not_an_input(const std::string& path);

}  // namespace lt
