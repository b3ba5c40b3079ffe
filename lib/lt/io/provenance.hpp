// Provenance: how an output was made, recorded on the root of every file lt
// writes (man/lt-h5.5, "Root attributes"). The one home of these
// attributes: the tool runner (cli::run_tool) states the invocation once,
// every h5::InputFile opened adds itself to the inputs, and every
// h5::OutputFile writes the record when it is committed.
//
//   lt_tool, lt_version, lt_git_commit   which program made the file
//   lt_command_line                      the command line, shell-quoted
//   lt_options                           every option with its value, as a
//                                        config file (replayable with --config)
//   lt_seed, lt_device                   where the tool has them
//   lt_inputs                            "path (lt_type); ..." of the files read
//   lt_created_utc                       when
//
// LT_PROVENANCE=fixed in the environment (or set_fixed_provenance) replaces
// the commit, command line, options and time by fixed values, so that equal
// inputs give byte-identical files (golden tests, determinism checks).
#pragma once

#include <string>

namespace lt::h5 {

class Group;

struct Invocation {
    std::string command_line;
    std::string options;
    std::string seed;    // "" when the tool takes no seed
    std::string device;  // "" when the tool takes no device
};
void set_invocation(Invocation invocation);

// Called by InputFile: "path (lt_type)", each file once.
void record_input(const std::string& file_name, const std::string& lt_type);

void set_fixed_provenance(bool fixed);
bool fixed_provenance();

// Writes the provenance attributes on the root group of the output `path`.
// An earlier version of the output itself (a resumed checkpoint) is not
// listed among its inputs.
void write_provenance(Group& root, const std::string& path);

}  // namespace lt::h5
