#include "lt/io/h5.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/io/checksum.hpp"
#include "lt/io/model_layout.hpp"
#include "lt/io/provenance.hpp"

#include <H5LTpublic.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <type_traits>

namespace lt::h5 {

namespace {


// "<tool>: error: crashed ..." for fatal signals, composed before any.
char crash_message[512] = {};

// Whether writing to the descriptor raises SIGPIPE: a pipe or socket whose
// reader is gone (poll is async-signal-safe).
bool lost_its_reader(int descriptor) {
    pollfd entry{descriptor, POLLOUT, 0};
    return poll(&entry, 1, 0) == 1 && (entry.revents & (POLLERR | POLLHUP)) != 0;
}

extern "C" void remove_temporaries_and_exit(int signal_number) {
    // SIGPIPE with stdout and stderr intact came from a socket of a
    // distributed job whose peer died (Gloo writes without MSG_NOSIGNAL):
    // returning lets that write fail with EPIPE, and the job reports the
    // lost rank in one line instead of dying silently.
    if (signal_number == SIGPIPE && !lost_its_reader(STDOUT_FILENO) && !lost_its_reader(STDERR_FILENO)) return;
    remove_registered_temporaries();
    if (signal_number != SIGINT && signal_number != SIGTERM && signal_number != SIGHUP &&
        signal_number != SIGPIPE && crash_message[0] != '\0') {
        ssize_t ignored = write(STDERR_FILENO, crash_message, std::strlen(crash_message));
        (void)ignored;
    }
    std::signal(signal_number, SIG_DFL);
    raise(signal_number);
}

[[noreturn]] void fail(const std::string& what) { throw SchemaError(what); }

hid_t checked(hid_t id, const std::string& what) {
    if (id < 0) throw Error(what);
    return id;
}

void checked(herr_t status, const std::string& what) {
    if (status < 0) throw Error(what);
}

// A failed write names the system's reason (errno), usually a full disk.
[[noreturn]] void write_failed(const std::string& file_name, int error) {
    throw Error(fmt::format("cannot write {}: {}", file_name, error ? std::strerror(error) : "the disk may be full"));
}

template <class Call>
void write_or_throw(Call call, const std::string& file_name) {
    errno = 0;
    if (call() < 0) write_failed(file_name, errno);
}


// Whether the call that just failed met a checksum that does not match (data
// changed on disk since it was written). Read before any other HDF5 call,
// which clears the error stack.
bool checksum_failed() {
    bool found = false;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        if (error->desc && std::strstr(error->desc, "checksum")) *static_cast<bool*>(data) = true;
        return 0;
    }, &found);
    return found;
}

constexpr const char* kDamagedHint = "the file changed after it was written: copy it again or remake it";

// After a failed HDF5 call on `where`: a checksum that does not match is
// told as such, not as a missing object or an unreadable file.
void throw_if_damaged(const std::string& where) {
    if (checksum_failed())
        throw SchemaError(fmt::format("cannot read {}: its checksum does not match (the file is damaged)", where),
                          kDamagedHint);
}

// A dataset whose values could not be read: one whose checksum fails is
// damaged; one compressed with a filter this HDF5 library lacks (h5py's lzf,
// a plugin's) is named as such, not as corrupt. (Chunks an optional filter
// left unfiltered read fine.)
[[noreturn]] void unreadable(hid_t dataset, const std::string& where, const std::string& detail) {
    throw_if_damaged(where);
    Handle properties(H5Dget_create_plist(dataset));
    const int filters = properties.valid() ? H5Pget_nfilters(properties.get()) : 0;
    for (int i = 0; i < filters; ++i) {
        unsigned flags = 0, filter_config = 0;
        std::size_t values = 0;
        char filter_name[64] = {};
        const H5Z_filter_t filter = H5Pget_filter2(properties.get(), static_cast<unsigned>(i), &flags, &values,
                                                   nullptr, sizeof filter_name, filter_name, &filter_config);
        if (filter >= 0 && H5Zfilter_avail(filter) <= 0)
            throw Error(fmt::format("cannot read {}: it is compressed with the filter '{}' (HDF5 filter {}), which "
                                    "this HDF5 library does not have",
                                    where, filter_name[0] ? filter_name : "unknown", filter),
                        "rewrite it with gzip where the filter is available, e.g. in h5py");
    }
    fail("cannot read " + where + " " + detail);
}

// Creation properties that keep files byte-identical across runs: HDF5
// otherwise stamps every object header with its modification time.
Handle untimed_creation_properties(hid_t property_class) {
    Handle properties(H5Pcreate(property_class));
    H5Pset_obj_track_times(properties.get(), false);
    return properties;
}

Handle vlen_string_type() {
    Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    return type;
}

// Reads every element of a string dataset or attribute (fixed or variable length).
// dataset: the dataset read, or -1 for an attribute.
template <class ReadFn>
std::vector<std::string> read_string_values(hid_t file_type, std::size_t count, ReadFn read,
                                            const std::string& where, hid_t dataset = -1) {
    const auto cannot_read = [&] {
        if (dataset >= 0) unreadable(dataset, where, "as strings");
        fail(where + ": cannot read strings");
    };
    std::vector<std::string> values;
    values.reserve(count);
    if (H5Tget_class(file_type) != H5T_STRING) fail(where + ": expected strings");
    if (H5Tis_variable_str(file_type) > 0) {
        Handle memory_type(H5Tcopy(H5T_C_S1));
        H5Tset_size(memory_type.get(), H5T_VARIABLE);
        H5Tset_cset(memory_type.get(), H5Tget_cset(file_type));
        std::vector<char*> pointers(count, nullptr);
        if (count > 0 && read(memory_type.get(), pointers.data()) < 0) cannot_read();
        for (char* text : pointers) {
            values.emplace_back(text ? text : "");
            std::free(text);  // HDF5 allocates vlen strings with malloc by default
        }
    } else {
        std::size_t width = H5Tget_size(file_type);
        Handle memory_type(H5Tcopy(H5T_C_S1));
        H5Tset_size(memory_type.get(), width);
        H5Tset_cset(memory_type.get(), H5Tget_cset(file_type));
        H5Tset_strpad(memory_type.get(), H5T_STR_NULLPAD);
        std::vector<char> buffer(count * width + 1, '\0');
        if (count > 0 && read(memory_type.get(), buffer.data()) < 0) cannot_read();
        for (std::size_t i = 0; i < count; ++i) {
            const char* start = buffer.data() + i * width;
            std::size_t length = strnlen(start, width);
            while (length > 0 && start[length - 1] == ' ') --length;  // space-padded (Fortran style)
            values.emplace_back(start, length);
        }
    }
    return values;
}

bool is_hdf5_signature(const char* bytes, std::size_t size) {
    static const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    // The superblock may follow a user block of 512, 1024, 2048, ... bytes.
    for (std::size_t offset = 0; offset + 8 <= size; offset = offset ? offset * 2 : 512)
        if (std::memcmp(bytes + offset, signature, 8) == 0) return true;
    return false;
}

}  // namespace

// ---------------------------------------------------------------- Handle

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        this->~Handle();
        id_ = other.id_;
        other.id_ = -1;
    }
    return *this;
}

Handle::~Handle() {
    if (id_ < 0 || H5Iis_valid(id_) <= 0) return;
    switch (H5Iget_type(id_)) {
        case H5I_FILE: H5Fclose(id_); break;
        case H5I_GROUP: H5Gclose(id_); break;
        case H5I_DATASET: H5Dclose(id_); break;
        case H5I_DATASPACE: H5Sclose(id_); break;
        case H5I_DATATYPE: H5Tclose(id_); break;
        case H5I_ATTR: H5Aclose(id_); break;
        case H5I_GENPROP_LST: H5Pclose(id_); break;
        default: break;
    }
    id_ = -1;
}

// ---------------------------------------------------------------- Group

Group::Group(std::shared_ptr<Handle> file, hid_t id, std::string file_name, std::string path)
    : file_(std::move(file)), handle_(std::make_shared<Handle>(id)),
      file_name_(std::move(file_name)), path_(std::move(path)) {}

std::string Group::where(const std::string& name) const {
    std::string object = path_;
    if (!name.empty()) object += (object == "/" ? "" : "/") + name;
    return file_name_ + ":" + object;
}

bool Group::has(const std::string& name) const {
    // H5Lexists fails on intermediate links that do not exist; walk the path.
    std::string prefix;
    std::size_t start = 0;
    while (true) {
        auto slash = name.find('/', start);
        prefix = name.substr(0, slash);
        const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
        if (exists < 0) throw_if_damaged(where(prefix));
        if (exists <= 0) return false;
        if (slash == std::string::npos) return true;
        start = slash + 1;
    }
}

// H5Oget_info's functions changed their signature in HDF5 1.12; the
// versioned ones, with only the fields needed, build against 1.10 to 1.14.
#if H5_VERSION_GE(1, 12, 0)
using ObjectInfo = H5O_info2_t;
#define LT_H5O_GET_INFO H5Oget_info3
#define LT_H5O_GET_INFO_BY_NAME H5Oget_info_by_name3
#else
using ObjectInfo = H5O_info_t;
#define LT_H5O_GET_INFO H5Oget_info2
#define LT_H5O_GET_INFO_BY_NAME H5Oget_info_by_name2
#endif

static H5O_type_t object_type(const Group& group, const std::string& name) {
    ObjectInfo info;
    if (LT_H5O_GET_INFO_BY_NAME(group.id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        throw_if_damaged(group.where(name));
        return H5O_TYPE_UNKNOWN;
    }
    return info.type;
}

bool Group::has_group(const std::string& name) const {
    return has(name) && object_type(*this, name) == H5O_TYPE_GROUP;
}

bool Group::has_dataset(const std::string& name) const {
    return has(name) && object_type(*this, name) == H5O_TYPE_DATASET;
}

namespace {

// The names of `count` links or attributes, read by index in name order:
// name_of(index, buffer, size) returns the name's length (HDF5's *_by_idx).
template <class NameOf>
std::vector<std::string> names_by_index(hsize_t count, NameOf name_of) {
    std::vector<std::string> names;
    for (hsize_t i = 0; i < count; ++i) {
        ssize_t length = name_of(i, nullptr, 0);
        if (length < 0) continue;
        std::string name(static_cast<std::size_t>(length), '\0');
        name_of(i, name.data(), name.size() + 1);
        names.push_back(name);
    }
    return names;
}

}  // namespace

std::vector<std::string> Group::children() const {
    H5G_info_t info;
    if (H5Gget_info(id(), &info) < 0) return {};
    return names_by_index(info.nlinks, [this](hsize_t i, char* name, std::size_t size) {
        return H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, size, H5P_DEFAULT);
    });
}

Group Group::group(const std::string& name) const {
    if (!has_group(name)) fail(fmt::format("{}: missing group '{}'", file_name_, where(name).substr(file_name_.size() + 1)));
    hid_t id_ = H5Gopen2(id(), name.c_str(), H5P_DEFAULT);
    if (id_ < 0) fail("cannot open group " + where(name));
    return Group(file_, id_, file_name_, where(name).substr(file_name_.size() + 1));
}

Group Group::create_group(const std::string& name) {
    Handle properties = untimed_creation_properties(H5P_GROUP_CREATE);
    Handle link_properties(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(link_properties.get(), 1);
    hid_t id_ = checked(H5Gcreate2(id(), name.c_str(), link_properties.get(), properties.get(), H5P_DEFAULT),
                        "cannot create group " + where(name));
    return Group(file_, id_, file_name_, where(name).substr(file_name_.size() + 1));
}

namespace {

Handle open_dataset(const Group& group, const std::string& name) {
    if (!group.has_dataset(name)) fail(fmt::format("{}: missing dataset '{}'", group.file_name(), group.where(name).substr(group.file_name().size() + 1)));
    Handle dataset(H5Dopen2(group.id(), name.c_str(), H5P_DEFAULT));
    if (!dataset.valid()) fail("cannot open dataset " + group.where(name));
    return dataset;
}

std::int64_t element_count(const Shape& shape) {
    std::int64_t count = 1;
    for (auto d : shape) count *= d;
    return count;
}

// gzip, the one compression filter lt-h5 files use, shrinks data at most
// ~1032-fold; a dataset never written (h5py's create_dataset(shape=...))
// stores nothing and reads as zeros, so small ones are allowed regardless.
constexpr std::uint64_t kMaxCompression = 1100;
constexpr std::uint64_t kUnstoredAllowance = std::uint64_t{64} << 10;

Shape dataset_extent(hid_t dataset) {
    Handle space(H5Dget_space(dataset));
    int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) return {};
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return Shape(dims.begin(), dims.end());
}

// The shape of a dataset being read, refused when the file cannot hold that
// much data: a corrupt header must give an error, not a huge allocation or an
// endless read of fill values (found by fuzz/h5.cpp).
Shape dataset_shape(hid_t dataset, const std::string& where) {
    Handle space(H5Dget_space(dataset));
    int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail("cannot read the shape of " + where + " (corrupt file?)");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    Handle type(H5Dget_type(dataset));
    std::uint64_t bytes = std::max<std::size_t>(1, H5Tget_size(type.get()));
    for (hsize_t extent : dims) {
        if (extent > (std::uint64_t{1} << 62) || __builtin_mul_overflow(bytes, extent, &bytes))
            fail(fmt::format("{} has an impossible shape (corrupt file)", where));
    }
    // The stored size comes from the (possibly corrupt) header too; data
    // cannot be larger than the file that holds it.
    std::uint64_t stored = H5Dget_storage_size(dataset);
    Handle file(H5Iget_file_id(dataset));
    hsize_t file_size = 0;
    if (file.valid() && H5Fget_filesize(file.get(), &file_size) >= 0) stored = std::min<std::uint64_t>(stored, file_size);
    // Compact data lives in the object header, so its size is known exactly;
    // Debian's HDF5 1.10 reads through a null pointer when they disagree.
    Handle properties(H5Dget_create_plist(dataset));
    if (H5Pget_layout(properties.get()) == H5D_COMPACT && H5Dget_storage_size(dataset) != bytes)
        fail(fmt::format("{} claims {} bytes of compact data but stores {} (corrupt file)", where, bytes,
                         H5Dget_storage_size(dataset)));
    if (bytes > kMaxCompression * std::max(stored, kUnstoredAllowance))
        fail(fmt::format("{} claims {} bytes of data but the file stores {} (corrupt file)", where, bytes, stored));
    return Shape(dims.begin(), dims.end());
}

void require_numeric(hid_t dataset, const std::string& where) {
    Handle type(H5Dget_type(dataset));
    H5T_class_t type_class = H5Tget_class(type.get());
    if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
        fail(where + ": expected a numeric dataset");
}

// A dataset or attribute written by h5py from a 0-d array or a Python scalar
// is scalar; one written from a 1-element list is [1]. Both are accepted.
std::size_t attribute_element_count(hid_t attribute) {
    Handle space(H5Aget_space(attribute));
    hssize_t count = H5Sget_simple_extent_npoints(space.get());
    return count < 0 ? 0 : static_cast<std::size_t>(count);
}

// Whole numbers of a dataset or attribute (read(memory_type, buffer) reads
// all count of them) as int64, refused rather than altered: HDF5 would
// truncate a float 8.999999 to 8 and saturate an unsigned 2^63 to 2^63 - 1.
template <class Read>
std::vector<std::int64_t> read_whole_numbers(hid_t file_type, std::size_t count, Read read, const std::string& where,
                                             const char* what, hid_t dataset = -1) {
    std::vector<std::int64_t> values(count);
    if (count == 0) return values;
    const auto cannot_read = [&] {
        if (dataset >= 0) unreadable(dataset, where, "(corrupt or truncated file?)");
        fail("cannot read " + where);
    };
    const auto at = [&](std::size_t i) { return count > 1 ? fmt::format(" at element {}", i) : std::string(); };
    if (H5Tget_class(file_type) == H5T_FLOAT) {
        std::vector<double> exact(count);
        if (read(H5T_NATIVE_DOUBLE, exact.data()) < 0) cannot_read();
        for (std::size_t i = 0; i < count; ++i) {
            if (!(std::nearbyint(exact[i]) == exact[i] && std::fabs(exact[i]) < 9.007199254740992e15))
                fail(fmt::format("{} holds {}{}, which is not a whole number (expected {})", where, exact[i], at(i),
                                 what));
            values[i] = static_cast<std::int64_t>(exact[i]);
        }
    } else if (H5Tget_sign(file_type) == H5T_SGN_NONE && H5Tget_size(file_type) >= sizeof(std::uint64_t)) {
        std::vector<std::uint64_t> unsigned_values(count);
        if (read(H5T_NATIVE_UINT64, unsigned_values.data()) < 0) cannot_read();
        for (std::size_t i = 0; i < count; ++i) {
            if (unsigned_values[i] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                fail(fmt::format("{} holds {}{}, which is beyond 2^63 - 1 (expected {})", where, unsigned_values[i],
                                 at(i), what));
            values[i] = static_cast<std::int64_t>(unsigned_values[i]);
        }
    } else if (read(H5T_NATIVE_INT64, values.data()) < 0) {
        cannot_read();
    }
    return values;
}

}  // namespace

Shape Group::shape(const std::string& dataset) const {
    Handle handle = open_dataset(*this, dataset);
    return dataset_shape(handle.get(), where(dataset));
}

std::vector<float> Group::read_floats(const std::string& name, Shape* shape_out) const {
    Handle dataset = open_dataset(*this, name);
    require_numeric(dataset.get(), where(name));
    Shape shape = dataset_shape(dataset.get(), where(name));
    std::vector<float> values(static_cast<std::size_t>(element_count(shape)));
    if (!values.empty() && H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        unreadable(dataset.get(), where(name), "(corrupt or truncated file?)");
    if (shape_out) *shape_out = shape;
    return values;
}

std::vector<std::int64_t> Group::read_ints(const std::string& name, Shape* shape_out) const {
    Handle dataset = open_dataset(*this, name);
    require_numeric(dataset.get(), where(name));
    Shape shape = dataset_shape(dataset.get(), where(name));
    Handle type(H5Dget_type(dataset.get()));
    std::vector<std::int64_t> values = read_whole_numbers(
        type.get(), static_cast<std::size_t>(element_count(shape)),
        [&](hid_t memory_type, void* buffer) {
            return H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
        },
        where(name), "an id, label or count", dataset.get());
    if (shape_out) *shape_out = shape;
    return values;
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
    Handle dataset = open_dataset(*this, name);
    Handle type(H5Dget_type(dataset.get()));
    auto count = static_cast<std::size_t>(element_count(dataset_shape(dataset.get(), where(name))));
    return read_string_values(type.get(), count, [&](hid_t memory_type, void* buffer) {
        return H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    }, where(name), dataset.get());
}

void Group::read_rows(const std::string& name, std::int64_t first, std::int64_t count, float* out) const {
    if (count <= 0) return;
    Handle dataset = open_dataset(*this, name);
    Shape shape = dataset_shape(dataset.get(), where(name));
    if (shape.size() != 2 || first < 0 || first + count > shape[0])
        fail(fmt::format("{}: cannot read rows {}..{}", where(name), first, first + count));
    Handle file_space(H5Dget_space(dataset.get()));
    hsize_t start[2] = {static_cast<hsize_t>(first), 0};
    hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(shape[1])};
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr);
    Handle memory_space(H5Screate_simple(2, extent, nullptr));
    if (H5Dread(dataset.get(), H5T_NATIVE_FLOAT, memory_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
        unreadable(dataset.get(), where(name), "(corrupt or truncated file?)");
}

// ---------------------------------------------------------------- writes

namespace {

Handle create_dataset(Group& group, const std::string& name, hid_t file_type, const Shape& shape,
                      const Shape& max_shape, const Shape& chunk) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    std::vector<hsize_t> max_dims;
    for (auto d : max_shape) max_dims.push_back(d < 0 ? H5S_UNLIMITED : static_cast<hsize_t>(d));
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                  max_dims.empty() ? nullptr : max_dims.data()));
    Handle properties = untimed_creation_properties(H5P_DATASET_CREATE);
    // Every dataset carries a Fletcher-32 checksum per chunk, so that data
    // damaged on disk is refused on read rather than silently used. Not a
    // scalar (it cannot be chunked; its object header has a checksum of its
    // own), nor variable-length strings (HDF5 filters no such data).
    const bool checksummed = !dims.empty() && H5Tis_variable_str(file_type) <= 0;
    if (!checksummed && !chunk.empty()) {
        std::vector<hsize_t> chunk_dims(chunk.begin(), chunk.end());
        H5Pset_chunk(properties.get(), static_cast<int>(chunk_dims.size()), chunk_dims.data());
    }
    if (checksummed) {
        std::vector<hsize_t> chunk_dims(chunk.begin(), chunk.end());
        if (chunk_dims.empty()) {
            // Rows of about 1 MiB a chunk: a row-block read touches no more
            // than it needs.
            const std::size_t element = std::max<std::size_t>(1, H5Tget_size(file_type));
            std::uint64_t row = element;
            for (std::size_t i = 1; i < dims.size(); ++i) row *= std::max<hsize_t>(1, dims[i]);
            chunk_dims.assign(dims.begin(), dims.end());
            chunk_dims[0] = std::clamp<hsize_t>((1u << 20) / std::max<std::uint64_t>(1, row), 1,
                                                std::max<hsize_t>(1, dims[0]));
            for (auto& d : chunk_dims) d = std::max<hsize_t>(d, 1);
        }
        H5Pset_chunk(properties.get(), static_cast<int>(chunk_dims.size()), chunk_dims.data());
        H5Pset_fletcher32(properties.get());
    }
    Handle link_properties(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(link_properties.get(), 1);
    return Handle(checked(H5Dcreate2(group.id(), name.c_str(), file_type, space.get(), link_properties.get(),
                                     properties.get(), H5P_DEFAULT),
                          "cannot create dataset " + group.where(name)));
}

void write_all(hid_t dataset, hid_t memory_type, const void* data, const std::string& where) {
    write_or_throw([&] { return H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data); }, where);
}

// Grows a 1-D or 2-D extendible dataset by rows and writes them at the end.
void append(hid_t dataset, hid_t memory_type, const void* data, std::int64_t rows, const std::string& where) {
    if (rows <= 0) return;
    Shape shape = dataset_extent(dataset);
    std::vector<hsize_t> new_dims(shape.begin(), shape.end());
    new_dims[0] += static_cast<hsize_t>(rows);
    checked(H5Dset_extent(dataset, new_dims.data()), "cannot extend " + where);
    Handle file_space(H5Dget_space(dataset));
    std::vector<hsize_t> start(shape.size(), 0), extent(new_dims);
    start[0] = static_cast<hsize_t>(shape[0]);
    extent[0] = static_cast<hsize_t>(rows);
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
    Handle memory_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
    write_or_throw([&] { return H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data); },
                   where);
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& value : values) pointers.push_back(value.c_str());
    return pointers;
}

}  // namespace

void Group::write_floats(const std::string& name, const float* data, const Shape& shape, std::int64_t chunk_rows) {
    Shape chunk;
    if (chunk_rows > 0 && !shape.empty()) {
        chunk = shape;
        chunk[0] = std::max<std::int64_t>(1, std::min(chunk_rows, shape[0]));
        for (auto& d : chunk) d = std::max<std::int64_t>(d, 1);
    }
    Handle dataset = create_dataset(*this, name, H5T_IEEE_F32LE, shape, {}, chunk);
    if (element_count(shape) > 0) write_all(dataset.get(), H5T_NATIVE_FLOAT, data, where(name));
}

void Group::write_ints(const std::string& name, const std::vector<std::int64_t>& data) {
    write_ints(name, data.data(), {static_cast<std::int64_t>(data.size())});
}

void Group::write_ints(const std::string& name, const std::int64_t* data, const Shape& shape) {
    Handle dataset = create_dataset(*this, name, H5T_STD_I64LE, shape, {}, {});
    if (element_count(shape) > 0) write_all(dataset.get(), H5T_NATIVE_INT64, data, where(name));
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& data) {
    Handle type = vlen_string_type();
    Handle dataset = create_dataset(*this, name, type.get(), {static_cast<std::int64_t>(data.size())}, {}, {});
    auto pointers = c_strings(data);
    if (!data.empty()) write_all(dataset.get(), type.get(), pointers.data(), where(name));
}

void Group::create_extendible_floats(const std::string& name, std::int64_t cols, std::int64_t chunk_rows) {
    create_dataset(*this, name, H5T_IEEE_F32LE, {0, cols}, {-1, cols},
                   {std::max<std::int64_t>(1, chunk_rows), std::max<std::int64_t>(1, cols)});
}

void Group::append_rows(const std::string& name, const float* data, std::int64_t rows) {
    Handle dataset = open_dataset(*this, name);
    append(dataset.get(), H5T_NATIVE_FLOAT, data, rows, where(name));
}

void Group::create_extendible_ints(const std::string& name, std::int64_t chunk) {
    create_dataset(*this, name, H5T_STD_I64LE, {0}, {-1}, {std::max<std::int64_t>(1, chunk)});
}

void Group::append_ints(const std::string& name, const std::int64_t* data, std::int64_t count) {
    Handle dataset = open_dataset(*this, name);
    append(dataset.get(), H5T_NATIVE_INT64, data, count, where(name));
}

void Group::create_extendible_strings(const std::string& name, std::int64_t chunk) {
    Handle type = vlen_string_type();
    create_dataset(*this, name, type.get(), {0}, {-1}, {std::max<std::int64_t>(1, chunk)});
}

void Group::append_strings(const std::string& name, const std::vector<std::string>& data) {
    Handle dataset = open_dataset(*this, name);
    Handle type = vlen_string_type();
    auto pointers = c_strings(data);
    append(dataset.get(), type.get(), pointers.data(), static_cast<std::int64_t>(data.size()), where(name));
}

Group::Layout Group::layout(const std::string& name) const {
    Handle dataset = open_dataset(*this, name);
    Layout layout;
    Handle type(H5Dget_type(dataset.get()));
    const std::size_t bytes = H5Tget_size(type.get());
    switch (H5Tget_class(type.get())) {
        case H5T_FLOAT: layout.type = fmt::format("float{}", 8 * bytes); break;
        case H5T_INTEGER:
            layout.type = fmt::format("{}int{}", H5Tget_sign(type.get()) == H5T_SGN_NONE ? "u" : "", 8 * bytes);
            break;
        case H5T_STRING: layout.type = H5Tis_variable_str(type.get()) > 0 ? "string" : fmt::format("string[{}]", bytes); break;
        default: layout.type = "other"; break;
    }
    Handle properties(H5Dget_create_plist(dataset.get()));
    if (H5Pget_layout(properties.get()) == H5D_CHUNKED) {
        const int rank = H5Pget_chunk(properties.get(), 0, nullptr);
        std::vector<hsize_t> chunks(static_cast<std::size_t>(std::max(rank, 0)));
        if (rank > 0 && H5Pget_chunk(properties.get(), rank, chunks.data()) == rank)
            layout.chunks.assign(chunks.begin(), chunks.end());
    }
    const int filters = H5Pget_nfilters(properties.get());
    for (int i = 0; i < filters; ++i) {
        unsigned flags = 0, config = 0;
        std::size_t values = 0;
        char filter_name[64] = "";
        if (H5Pget_filter2(properties.get(), static_cast<unsigned>(i), &flags, &values, nullptr, sizeof filter_name,
                           filter_name, &config) >= 0)
            layout.filters.emplace_back(filter_name);
    }
    return layout;
}

// ---------------------------------------------------------------- attributes

bool Group::has_attr(const std::string& name) const {
    const htri_t exists = H5Aexists(id(), name.c_str());
    if (exists < 0) throw_if_damaged(where());
    return exists > 0;
}

std::vector<std::string> Group::attribute_names() const {
    ObjectInfo info;
    if (LT_H5O_GET_INFO(id(), &info, H5O_INFO_NUM_ATTRS) < 0) return {};
    return names_by_index(info.num_attrs, [this](hsize_t i, char* name, std::size_t size) {
        return H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, size, H5P_DEFAULT);
    });
}

Group::AttrKind Group::attr_kind(const std::string& name) const {
    Handle attribute(H5Aopen(id(), name.c_str(), H5P_DEFAULT));
    if (!attribute.valid()) return AttrKind::other;
    Handle type(H5Aget_type(attribute.get()));
    if (attribute_element_count(attribute.get()) != 1) return AttrKind::other;
    switch (H5Tget_class(type.get())) {
        case H5T_STRING: return AttrKind::string;
        // An unsigned 64-bit value may not fit int64: shown as a double.
        case H5T_INTEGER:
            return H5Tget_sign(type.get()) == H5T_SGN_NONE && H5Tget_size(type.get()) >= 8 ? AttrKind::floating
                                                                                            : AttrKind::integer;
        case H5T_FLOAT: return AttrKind::floating;
        default: return AttrKind::other;
    }
}

namespace {
Handle open_attribute(const Group& group, const std::string& name) {
    if (!group.has_attr(name)) fail(fmt::format("{}: missing attribute '{}'", group.where(), name));
    Handle attribute(H5Aopen(group.id(), name.c_str(), H5P_DEFAULT));
    if (!attribute.valid()) fail(fmt::format("{}: cannot open attribute '{}'", group.where(), name));
    if (attribute_element_count(attribute.get()) != 1)
        fail(fmt::format("{}: attribute '{}' must hold one value", group.where(), name));
    return attribute;
}

template <class T>
T read_numeric_attribute(const Group& group, const std::string& name, hid_t memory_type) {
    Handle attribute = open_attribute(group, name);
    Handle type(H5Aget_type(attribute.get()));
    H5T_class_t type_class = H5Tget_class(type.get());
    const std::string where = fmt::format("{}: attribute '{}'", group.where(), name);
    T value{};
    if (type_class == H5T_STRING) {
        // Accept numbers written as strings ("10"), as some exporters do.
        std::string text = group.attr_string(name);
        double number = 0;
        std::size_t used = 0;
        try {
            number = std::stod(text, &used);
        } catch (const std::exception&) {
        }
        if (used == 0 || used != text.size()) fail(where + " is not a number");
        if constexpr (std::is_integral_v<T>) {
            if (!(std::nearbyint(number) == number && std::fabs(number) < 9.007199254740992e15))
                fail(fmt::format("{} holds {}, which is not a whole number", where, text));
        }
        return static_cast<T>(number);
    }
    if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) fail(where + " is not a number");
    if constexpr (std::is_integral_v<T>) {
        return read_whole_numbers(type.get(), 1, [&](hid_t memory, void* buffer) {
            return H5Aread(attribute.get(), memory, buffer);
        }, where, "an integer attribute").front();
    }
    if (H5Aread(attribute.get(), memory_type, &value) < 0) fail("cannot read " + where);
    return value;
}

void replace_attribute(hid_t object, const std::string& name) {
    if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
}
}  // namespace

std::string Group::attr_string(const std::string& name) const {
    Handle attribute = open_attribute(*this, name);
    Handle type(H5Aget_type(attribute.get()));
    if (H5Tget_class(type.get()) != H5T_STRING)
        fail(fmt::format("{}: attribute '{}' is not a string", where(), name));
    auto values = read_string_values(type.get(), 1, [&](hid_t memory_type, void* buffer) {
        return H5Aread(attribute.get(), memory_type, buffer);
    }, where() + " attribute " + name);
    return values.front();
}

std::int64_t Group::attr_int(const std::string& name) const {
    return read_numeric_attribute<std::int64_t>(*this, name, H5T_NATIVE_INT64);
}

double Group::attr_double(const std::string& name) const {
    return read_numeric_attribute<double>(*this, name, H5T_NATIVE_DOUBLE);
}

void Group::set_attr(const std::string& name, const std::string& value) {
    replace_attribute(id(), name);
    Handle type = vlen_string_type();
    Handle space(H5Screate(H5S_SCALAR));
    Handle attribute(checked(H5Acreate2(id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                             "cannot write attribute " + name + " of " + where()));
    const char* text = value.c_str();
    checked(H5Awrite(attribute.get(), type.get(), &text), "cannot write attribute " + name + " of " + where());
}

void Group::set_attr(const std::string& name, std::int64_t value) {
    replace_attribute(id(), name);
    Handle space(H5Screate(H5S_SCALAR));
    Handle attribute(checked(H5Acreate2(id(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                             "cannot write attribute " + name + " of " + where()));
    checked(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), "cannot write attribute " + name);
}

void Group::set_attr(const std::string& name, double value) {
    replace_attribute(id(), name);
    Handle space(H5Screate(H5S_SCALAR));
    Handle attribute(checked(H5Acreate2(id(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                             "cannot write attribute " + name + " of " + where()));
    checked(H5Awrite(attribute.get(), H5T_NATIVE_DOUBLE, &value), "cannot write attribute " + name);
}

// ---------------------------------------------------------------- InputFile

namespace {

std::vector<char> read_stream(std::istream& stream) {
    std::vector<char> bytes;
    char buffer[1 << 16];
    while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0)
        bytes.insert(bytes.end(), buffer, buffer + stream.gcount());
    return bytes;
}

std::shared_ptr<Handle> open_input(const std::string& path, std::vector<char>& image) {
    if (path == "-") {
        claim_standard_input("an lt-h5 file");
        std::ios::sync_with_stdio(false);
        image = read_stream(std::cin);
        if (image.empty()) {
            struct stat info {};
            if (fstat(STDIN_FILENO, &info) == 0 && S_ISDIR(info.st_mode))
                throw Error("standard input is a directory (expected an lt-h5 file)");
            throw Error("standard input is empty (expected an lt-h5 file)");
        }
        if (!is_hdf5_signature(image.data(), image.size()))
            throw Error("standard input is not an HDF5 file");
        // The HDF5 library's own error is lost inside H5LTopen_file_image.
        if (!superblock_checksum_matches(reinterpret_cast<const unsigned char*>(image.data()), image.size()))
            throw SchemaError("cannot read standard input: its checksum does not match (the file is damaged)",
                              kDamagedHint);
        hid_t file = H5LTopen_file_image(image.data(), image.size(),
                                         H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
        if (file < 0) throw Error("standard input holds a corrupt or truncated HDF5 file");
        return std::make_shared<Handle>(file);
    }
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    if (S_ISDIR(info.st_mode)) throw Error(fmt::format("cannot open {}: is a directory", path));
    std::FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe) throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    char head[8] = {};
    std::size_t got = std::fread(head, 1, sizeof head, probe);
    std::fclose(probe);
    if (got == 0) throw Error(fmt::format("{} is empty (expected an lt-h5 file)", path));
    if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(fmt::format("{} is not an HDF5 file", path));
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        throw_if_damaged(path);
        throw Error(fmt::format("cannot open {}: corrupt or truncated HDF5 file", path));
    }
    return std::make_shared<Handle>(file);
}

}  // namespace

InputFile::InputFile(const std::string& path)
    : Group(nullptr, -1, path == "-" ? "<stdin>" : path, "/") {
    file_ = open_input(path, image_);
    hid_t root = H5Gopen2(file_->get(), "/", H5P_DEFAULT);
    if (root < 0) throw_if_damaged(file_name_);
    handle_ = std::make_shared<Handle>(checked(root, "cannot open the root group of " + file_name_));
    record_input(file_name_, type());
    protect_input(path);
}

std::string InputFile::type() const {
    if (has_attr("lt_type")) return attr_string("lt_type");
    // A foreign file (e.g. features exported with h5py): infer from its content.
    if (has_dataset("features")) return "features";
    if (has_dataset("prototypes")) return "prototypes";
    if (has_group("members")) return "ensemble";
    if (has_group(model_layout::kBackbone) || has_group(model_layout::kClassifier)) return model_layout::kType;
    if (has_dataset("weights")) return "classifier";
    return "unknown";
}

void InputFile::check_type(const std::vector<std::string>& accepted) const {
    if (has_attr("lt_schema") && attr_string("lt_schema") != kSchema)
        fail(fmt::format("{} has lt_schema '{}', expected '{}'", file_name_, attr_string("lt_schema"), kSchema));
    if (has_attr("lt_schema_version")) {
        std::int64_t file_version = attr_int("lt_schema_version");
        if (file_version > kSchemaVersion)
            throw SchemaError(fmt::format("{} uses lt-h5 schema version {}; this lt reads version {}",
                                          file_name_, file_version, kSchemaVersion),
                              "upgrade lt");
        if (file_version < 1) fail(fmt::format("{} has an invalid lt_schema_version {}", file_name_, file_version));
    }
    std::string actual = type();
    if (std::find(accepted.begin(), accepted.end(), actual) != accepted.end()) return;
    std::string expected;
    for (std::size_t i = 0; i < accepted.size(); ++i)
        expected += (i == 0 ? "" : (i + 1 == accepted.size() ? " or " : ", ")) + accepted[i];
    fail(fmt::format("{} is a {} file, expected {}", file_name_,
                     actual == "unknown" ? "non-lt" : "'" + actual + "'", expected));
}

// ---------------------------------------------------------------- OutputFile

namespace {

// A sweep keeps one output file open per value, which can pass the common
// soft limit of 1024 open files; the hard limit is usually far higher.
bool raise_open_file_limit() {
    struct rlimit limit {};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return false;
    limit.rlim_cur = limit.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

hid_t create_temporary(const std::string& temporary, hid_t creation, hid_t access) {
    errno = 0;
    hid_t file = H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, creation, access);
    if (file < 0 && errno == EMFILE && raise_open_file_limit()) {
        errno = 0;
        file = H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, creation, access);
    }
    return file;
}

}  // namespace

OutputFile::OutputFile(const std::string& path, const std::string& lt_type)
    : Group(nullptr, -1, path == "-" ? "<stdout>" : path, "/"), target_(path), to_stdout_(path == "-") {
    if (path.empty()) throw UsageError("the output path is empty");
    if (!to_stdout_) {
        struct stat info {};
        if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
            throw Error(fmt::format("cannot write {}: is a directory", path));
        const OutputTarget target = resolve_output(path);
        destination_ = target.path;
        direct_ = target.direct;
    }
    Handle access(H5Pcreate(H5P_FILE_ACCESS));
    // Closing the file closes every object still open in it, so commit()
    // really finishes the file before it is renamed into place.
    H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG);
    // The HDF5 1.8 file format: its superblock and object headers carry
    // checksums (the 1.6 format's have none), and HDF5 1.8 and later read it.
    H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
    // No block of small raw data kept in reserve: its unused end stays in an
    // image taken from the open file (standard output) but not in a closed
    // file, and both must be the same bytes.
    H5Pset_small_data_block_size(access.get(), 0);
    H5Pset_meta_block_size(access.get(), 0);
    // The root group's header, too, without times (in this format its
    // prefix would hold them).
    Handle creation = untimed_creation_properties(H5P_FILE_CREATE);
    hid_t file;
    if (in_memory()) {
        static std::atomic<int> files_in_memory{0};
        H5Pset_fapl_core(access.get(), 1 << 20, false);
        file = H5Fcreate(fmt::format("lt-memory-{}-{}", getpid(), ++files_in_memory).c_str(), H5F_ACC_TRUNC,
                         creation.get(), access.get());
        if (file < 0) throw Error("cannot create the in-memory output file");
    } else {
        remove_stale_temporaries(destination_);
        temporary_ = temporary_path(destination_);
        register_temporary(temporary_, path);
        file = create_temporary(temporary_, creation.get(), access.get());
        if (file < 0) {
            int error = errno;
            unlink(temporary_.c_str());  // HDF5 may have created it before failing (a full disk)
            unregister_temporary(temporary_);
            if (error == EMFILE)
                throw Error(fmt::format("cannot write {}: too many files open at once", path),
                            "write fewer values per run, or raise the limit with ulimit -n");
            throw Error(fmt::format("cannot write {}: {}", path,
                                    error ? std::strerror(error) : "cannot create a file in its folder"));
        }
    }
    file_ = std::make_shared<Handle>(file);
    handle_ = std::make_shared<Handle>(checked(H5Gopen2(file, "/", H5P_DEFAULT), "cannot open root group"));
    set_attr("lt_schema", kSchema);
    set_attr("lt_schema_version", kSchemaVersion);
    set_attr("lt_type", lt_type);
}

OutputFile::~OutputFile() {
    if (committed_) return;
    handle_.reset();
    file_.reset();
    if (!temporary_.empty()) {
        unlink(temporary_.c_str());
        unregister_temporary(temporary_);
    }
}

void OutputFile::finish() { finish(/*sync=*/true); }

void OutputFile::finish(bool sync) {
    if (committed_ || finished_) return;
    // An input opened after this output was started is checked here.
    if (!to_stdout_) check_not_an_input(target_);
    write_provenance(*this, target_);
    write_or_throw([&] { return H5Fflush(file_->get(), H5F_SCOPE_GLOBAL); }, file_name_);
    if (in_memory()) {
        finished_ = true;  // written out by commit()
        return;
    }
    handle_.reset();
    const hid_t file = file_->get();
    errno = 0;
    const herr_t closed = H5Fclose(file);
    const int error = errno;
    *file_ = Handle();  // already closed (or half-closed: a full disk)
    if (closed < 0) write_failed(file_name_, error);
    if (sync) {
        int descriptor = open(temporary_.c_str(), O_RDONLY);
        if (descriptor >= 0) {
            fsync(descriptor);
            close(descriptor);
        }
    }
    finished_ = true;
}

void OutputFile::commit() {
    if (committed_) return;
    finish();
    if (in_memory()) {
        ssize_t size = H5Fget_file_image(file_->get(), nullptr, 0);
        if (size < 0) throw Error("cannot build the output file image");
        std::vector<char> image(static_cast<std::size_t>(size));
        H5Fget_file_image(file_->get(), image.data(), image.size());
        repair_superblock_checksum(reinterpret_cast<unsigned char*>(image.data()), image.size());
        handle_.reset();
        file_.reset();
        if (direct_) {
            write_directly(destination_, std::string_view(image.data(), image.size()), target_);
        } else if (std::fwrite(image.data(), 1, image.size(), stdout) != image.size() || std::fflush(stdout) != 0) {
            throw Error("cannot write to standard output");
        }
        committed_ = true;
        return;
    }
    if (std::rename(temporary_.c_str(), destination_.c_str()) != 0)
        throw Error(fmt::format("cannot write {}: {}", target_, std::strerror(errno)));
    unregister_temporary(temporary_);
    committed_ = true;
}

void commit_together(const std::vector<OutputFile*>& outputs) {
    for (OutputFile* output : outputs) output->finish(/*sync=*/false);
    // Every file's write-back is started before any is waited for: one wait
    // for all of them, not one after another.
    std::vector<int> descriptors;
    for (OutputFile* output : outputs) {
        if (output->in_memory()) continue;
        int descriptor = open(output->temporary_.c_str(), O_RDONLY);
        if (descriptor < 0) continue;
        sync_file_range(descriptor, 0, 0, SYNC_FILE_RANGE_WRITE);
        descriptors.push_back(descriptor);
    }
    for (int descriptor : descriptors) {
        fsync(descriptor);
        close(descriptor);
    }
    for (OutputFile* output : outputs) output->commit();
}

void install_cleanup_on_signals() {
    // A crash (a bug, or a corrupt file that makes the HDF5 library itself
    // fail) also removes the temporaries, says so in one line, and still ends
    // by the signal, so the exit status shows what happened.
    std::snprintf(crash_message, sizeof crash_message,
                  "%s: error: crashed (a bug in lt, or an input file the HDF5 library cannot read safely)\n",
                  log::tool().c_str());
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) std::signal(signal_number, remove_temporaries_and_exit);
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer reports crashes itself
    for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
        std::signal(signal_number, remove_temporaries_and_exit);
#endif
}

}  // namespace lt::h5
