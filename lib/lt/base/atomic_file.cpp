#include "lt/base/atomic_file.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

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
// A name too long for that (a file name holds 255 bytes) is cut and given a
// hash of the whole, so the prefix still says whose it is.
std::string temporary_prefix(const std::string& path) {
    constexpr std::size_t kMaxName = 255, kPid = 10;
    std::string name = name_of(path);
    const std::string host = host_name().substr(0, 64);
    const std::size_t fixed = 1 + 5 + host.size() + 1 + kPid;  // ".", ".tmp.", host, ".", pid
    if (fixed + name.size() > kMaxName) {
        std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
        for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
        name = fmt::format("{}~{:016x}", name.substr(0, kMaxName - fixed - 17), hash);
    }
    return fmt::format(".{}.tmp.{}.", name, host);
}

// The registered temporaries, in blocks of fixed slots that the signal
// handler can walk without allocating (only async-signal-safe calls there).
// lt-attend keeps one output per value of a sweep open, so a full block gets
// a successor (allocated under the mutex, never freed); a slot's first byte
// is written last, so the handler never sees half a name.
constexpr std::size_t kSlotsPerBlock = 256, kSlotSize = 4096;  // PATH_MAX
struct TemporaryBlock {
    std::array<char[kSlotSize], kSlotsPerBlock> slots{};
    std::atomic<TemporaryBlock*> next{nullptr};
};
TemporaryBlock first_block;

template <typename Visit>
void for_each_slot(Visit&& visit) {
    for (TemporaryBlock* block = &first_block; block; block = block->next.load(std::memory_order_acquire))
        for (auto& slot : block->slots) visit(slot);
}

// A file by device and inode, whatever the path's spelling. Its time of last
// change tells it from a later file given the inode of a deleted one.
struct FileIdentity {
    dev_t device;
    ino_t inode;
    timespec changed;
};

FileIdentity identity_of(const struct stat& info) { return {info.st_dev, info.st_ino, info.st_ctim}; }
std::vector<FileIdentity> protected_inputs, replaceable;
std::mutex registry;  // writers may be threads; the signal handler only reads

bool same_file(const FileIdentity& a, const FileIdentity& b) {
    return a.device == b.device && a.inode == b.inode && a.changed.tv_sec == b.changed.tv_sec &&
           a.changed.tv_nsec == b.changed.tv_nsec;
}

bool among(const std::vector<FileIdentity>& files, const FileIdentity& identity) {
    for (const auto& file : files)
        if (same_file(file, identity)) return true;
    return false;
}

bool identify(const std::string& path, FileIdentity* identity) {
    struct stat info {};
    if (path.empty() || path == "-" || stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
    *identity = identity_of(info);
    return true;
}

}  // namespace

void register_temporary(const std::string& temporary, const std::string& path) {
    check_not_an_input(path);
    std::lock_guard lock(registry);
    char* free_slot = nullptr;
    for_each_slot([&](char* slot) {
        if (temporary == slot)
            throw UsageError(fmt::format("{} is named as two outputs of this run", path),
                             "give each output its own file");
        if (!free_slot && slot[0] == '\0') free_slot = slot;
    });
    // A longer name cannot be created (ENAMETOOLONG): writing reports it.
    if (temporary.empty() || temporary.size() >= kSlotSize) return;
    if (!free_slot) {
        TemporaryBlock* last = &first_block;
        while (TemporaryBlock* next = last->next.load(std::memory_order_acquire)) last = next;
        auto* block = new TemporaryBlock;  // lives as long as the process
        last->next.store(block, std::memory_order_release);
        free_slot = block->slots[0];
    }
    std::memcpy(free_slot + 1, temporary.c_str() + 1, temporary.size());  // with its '\0'
    std::atomic_signal_fence(std::memory_order_release);
    free_slot[0] = temporary[0];
}

void unregister_temporary(const std::string& temporary) {
    std::lock_guard lock(registry);
    for_each_slot([&](char* slot) {
        if (temporary == slot) slot[0] = '\0';
    });
}

void remove_registered_temporaries() {
    for_each_slot([](const char* slot) {
        if (slot[0] != '\0') unlink(slot);
    });
}

void protect_input(const std::string& path) {
    FileIdentity identity{};
    struct stat info {};
    // "-": the file standard input was redirected from, if it is one.
    const bool known = path == "-" ? fstat(STDIN_FILENO, &info) == 0 && S_ISREG(info.st_mode)
                                   : identify(path, &identity);
    if (path == "-" && known) identity = identity_of(info);
    std::lock_guard lock(registry);
    if (known) protected_inputs.push_back(identity);
}

void claim_standard_input(const std::string& as) {
    static std::string claimed;  // what standard input is read as, once read
    if (!claimed.empty())
        throw UsageError(fmt::format("'-' names two inputs ({}): standard input can be read only once",
                                     claimed == as ? as + " twice" : claimed + " and " + as),
                         "give all but one of them as files");
    claimed = as;
}

void allow_replacing(const std::string& path) {
    FileIdentity identity{};
    std::lock_guard lock(registry);
    if (identify(path, &identity)) replaceable.push_back(identity);
}

void check_not_an_input(const std::string& path) {
    FileIdentity identity{};
    if (!identify(path, &identity)) return;
    std::lock_guard lock(registry);
    if (among(protected_inputs, identity) && !among(replaceable, identity))
        throw UsageError(fmt::format("{} is an input of this run; an output may not replace it", path),
                         "write the output elsewhere");
}

OutputTarget resolve_output(const std::string& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) return {path, true};
    std::string current = path;
    for (int depth = 0; depth < 40; ++depth) {  // a longer chain or a loop: creating the file reports it
        if (lstat(current.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) break;
        std::vector<char> target(static_cast<std::size_t>(info.st_size > 0 ? info.st_size : 4095) + 1, '\0');
        const ssize_t length = readlink(current.c_str(), target.data(), target.size() - 1);
        if (length <= 0) break;
        const std::string next(target.data(), static_cast<std::size_t>(length));
        current = next.front() == '/' ? next : folder_of(current) + "/" + next;
    }
    return {current, false};
}

namespace {

// Writes bytes to file and closes it: the reason of a failure, or "".
std::string write_and_close(std::FILE* file, std::string_view bytes) {
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size() && std::fflush(file) == 0;
    std::string reason = written ? std::string() : system_reason();
    if (std::fclose(file) != 0 && written) reason = system_reason();
    return reason;
}

}  // namespace

void write_directly(const std::string& path, std::string_view bytes, const std::string& shown_as) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) throw Error(fmt::format("cannot write '{}': {}", shown_as, system_reason()));
    const std::string reason = write_and_close(file, bytes);
    if (!reason.empty()) throw Error(fmt::format("cannot write '{}': {}", shown_as, reason));
}

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

namespace {

// The bytes of path in its registered temporary; removed again unless
// renamed into place. A device or FIFO (OutputTarget::direct) is written
// only then, as it cannot be replaced.
class PendingFile {
public:
    PendingFile(const std::string& path, std::string_view bytes) : path_(path) {
        if (path.empty()) throw Error("empty output path");
        const OutputTarget target = resolve_output(path);
        destination_ = target.path;
        if (target.direct) {
            direct_bytes_ = bytes;
            direct_ = true;
            return;
        }
        remove_stale_temporaries(destination_);
        temporary_ = temporary_path(destination_);
        register_temporary(temporary_, path);
        std::FILE* file = std::fopen(temporary_.c_str(), "wb");
        if (!file) {
            const std::string reason = system_reason();
            unregister_temporary(temporary_);
            throw Error(fmt::format("cannot write '{}': {}", path, reason));
        }
        // No fsync: rename already protects against a killed process, which
        // is the failure this guards; syncing thousands of small PNGs costs
        // seconds.
        const std::string reason = write_and_close(file, bytes);
        if (!reason.empty()) {
            discard();
            throw Error(fmt::format("cannot write '{}': {}", path, reason));
        }
    }
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;
    ~PendingFile() {
        if (!temporary_.empty()) discard();
    }
    void rename_into_place() {
        if (direct_) {
            write_directly(destination_, direct_bytes_, path_);
            return;
        }
        if (std::rename(temporary_.c_str(), destination_.c_str()) != 0)
            throw Error(fmt::format("cannot write '{}': {}", path_, system_reason()));
        unregister_temporary(temporary_);
        temporary_.clear();
    }

private:
    void discard() {
        std::remove(temporary_.c_str());
        unregister_temporary(temporary_);
        temporary_.clear();
    }
    std::string path_, destination_, temporary_;
    std::string_view direct_bytes_;  // the caller's, alive until rename_into_place
    bool direct_ = false;
};

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes) {
    PendingFile(path, bytes).rename_into_place();
}

void write_text_outputs_together(const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::vector<std::unique_ptr<PendingFile>> pending;
    for (const auto& [path, content] : outputs)
        if (path != "-") pending.push_back(std::make_unique<PendingFile>(path, content));
    for (auto& file : pending) file->rename_into_place();
    for (const auto& [path, content] : outputs)
        if (path == "-") write_text_output(path, content);
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
