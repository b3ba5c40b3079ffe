// Low-level HDF5 access for the lt-h5 format (man/lt-h5.5): RAII handles,
// typed reads that accept what h5py writes by default, atomic outputs, '-'
// for stdin/stdout, and provenance. LibTorch-free on purpose.
//
// Reading:  lt::h5::InputFile in(path);            // "-" reads stdin into memory
//           in.check_type("features");              // lt_type and version checks
//           auto labels = in.read_ints("labels");
// Writing:  lt::h5::OutputFile out(path, "classifier");  // "-" builds it in memory
//           out.write_floats("weights", data, {C, D});
//           out.commit();   // rename into place (or write to stdout); without
//                           // commit() the destructor removes the temporary
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lt::h5 {

inline constexpr const char* kSchema = "lt-h5";
inline constexpr std::int64_t kSchemaVersion = 1;

// Owns one hid_t and closes it with the right H5?close.
class Handle {
public:
    Handle() = default;
    explicit Handle(hid_t id) : id_(id) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = -1; }
    Handle& operator=(Handle&& other) noexcept;
    ~Handle();
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_ = -1;
};

using Shape = std::vector<std::int64_t>;

// A group (or a file's root group). Names are relative to it ("weights",
// "members/0"). Every error names the file and the object.
class Group {
public:
    Group(std::shared_ptr<Handle> file, hid_t id, std::string file_name, std::string path);

    const std::string& file_name() const { return file_name_; }
    const std::string& path() const { return path_; }  // "/" or "/classifier"
    hid_t id() const { return handle_->get(); }

    bool has(const std::string& name) const;          // dataset or group
    bool has_group(const std::string& name) const;
    bool has_dataset(const std::string& name) const;
    std::vector<std::string> children() const;        // names, in name order
    Group group(const std::string& name) const;        // open existing
    Group create_group(const std::string& name);

    Shape shape(const std::string& dataset) const;
    // Whole-dataset reads; values are converted (float64 -> float32, int32 -> int64).
    std::vector<float> read_floats(const std::string& dataset, Shape* shape = nullptr) const;
    std::vector<std::int64_t> read_ints(const std::string& dataset, Shape* shape = nullptr) const;
    std::vector<std::string> read_strings(const std::string& dataset) const;  // fixed or vlen
    // Rows [first, first+count) of a 2-D dataset into out (count x cols floats).
    void read_rows(const std::string& dataset, std::int64_t first, std::int64_t count, float* out) const;

    // Writes. chunk_rows > 0 makes a row-chunked dataset (for big [N, D] arrays).
    void write_floats(const std::string& name, const float* data, const Shape& shape,
                      std::int64_t chunk_rows = 0);
    void write_floats(const std::string& name, const std::vector<float>& data, const Shape& shape,
                      std::int64_t chunk_rows = 0) { write_floats(name, data.data(), shape, chunk_rows); }
    void write_ints(const std::string& name, const std::vector<std::int64_t>& data);
    void write_ints(const std::string& name, const std::int64_t* data, const Shape& shape);
    void write_strings(const std::string& name, const std::vector<std::string>& data);
    // Extendible 2-D float dataset for streaming writers: create, then append.
    void create_extendible_floats(const std::string& name, std::int64_t cols, std::int64_t chunk_rows);
    void append_rows(const std::string& name, const float* data, std::int64_t rows);
    void create_extendible_ints(const std::string& name, std::int64_t chunk);
    void append_ints(const std::string& name, const std::int64_t* data, std::int64_t count);
    void create_extendible_strings(const std::string& name, std::int64_t chunk);
    void append_strings(const std::string& name, const std::vector<std::string>& data);

    // How a dataset is stored, for lt-info: "float32", "float64", "int64",
    // "uint8", "string", ...; row chunks (empty when contiguous); filters
    // ("deflate", "shuffle", ...).
    struct Layout {
        std::string type;
        Shape chunks;
        std::vector<std::string> filters;
    };
    Layout layout(const std::string& dataset) const;

    bool has_attr(const std::string& name) const;
    std::vector<std::string> attribute_names() const;  // in name order
    enum class AttrKind { string, integer, floating, other };
    AttrKind attr_kind(const std::string& name) const;
    std::string attr_string(const std::string& name) const;  // fixed or vlen, scalar or [1]
    std::int64_t attr_int(const std::string& name) const;
    double attr_double(const std::string& name) const;
    void set_attr(const std::string& name, const std::string& value);
    void set_attr(const std::string& name, const char* value) { set_attr(name, std::string(value)); }
    void set_attr(const std::string& name, std::int64_t value);
    void set_attr(const std::string& name, int value) { set_attr(name, static_cast<std::int64_t>(value)); }
    void set_attr(const std::string& name, double value);

    // "file.h5:/classifier/weights" for messages.
    std::string where(const std::string& name = {}) const;

protected:
    std::shared_ptr<Handle> file_;
    std::shared_ptr<Handle> handle_;
    std::string file_name_, path_;
};

// An lt-h5 (or h5py-written) file opened for reading. "-" = stdin.
class InputFile : public Group {
public:
    explicit InputFile(const std::string& path);
    InputFile(const InputFile&) = delete;  // HDF5 reads image_ in place
    InputFile& operator=(const InputFile&) = delete;
    // lt_type of the file; for a foreign file without lt attributes it is
    // inferred from the datasets ("features" when /features exists, ...).
    std::string type() const;
    // Throws SchemaError unless type() is one of the accepted types, and refuses
    // lt_schema_version newer than kSchemaVersion.
    void check_type(const std::vector<std::string>& accepted) const;
    void check_type(const std::string& accepted) const { check_type(std::vector<std::string>{accepted}); }

private:
    std::vector<char> image_;  // stdin bytes; HDF5 reads them in place
};

class OutputFile;
void commit_together(const std::vector<OutputFile*>& outputs);

// A file written atomically: built at <dir>/.<name>.tmp.<pid>, then renamed
// into place by commit() (a symbolic link is followed, see
// lt::resolve_output). "-" (standard output) and a device or FIFO are built
// in memory and written out by commit(). Root attributes lt_schema,
// lt_schema_version and lt_type are written at construction, provenance
// (lt/io/provenance.hpp) by commit().
class OutputFile : public Group {
public:
    OutputFile(const std::string& path, const std::string& lt_type);
    ~OutputFile();
    void commit();
    // Completes the temporary file (provenance, flushed, synced to disk)
    // without renaming it into place: what commit() does first.
    void finish();

private:
    void finish(bool sync);
    bool in_memory() const { return to_stdout_ || direct_; }
    friend void commit_together(const std::vector<OutputFile*>& outputs);
    std::string target_, destination_, temporary_;  // as given; where it goes (links followed)
    bool to_stdout_ = false, direct_ = false, committed_ = false, finished_ = false;
};

// Several outputs of one run (a sweep), all or none: every file is
// completed and synced first, then they are renamed into place one after
// another, so a failure while writing leaves none of them.
void commit_together(const std::vector<OutputFile*>& outputs);

// Removes the temporary files of uncommitted outputs when the process is
// interrupted (SIGINT, SIGTERM, SIGHUP, and SIGPIPE when stdout or stderr
// lost its reader). Installed by cli::run_tool.
void install_cleanup_on_signals();

}  // namespace lt::h5
