#include "lt/learn/distributed.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/cli/cli.hpp"
#include "lt/learn/torch_version.hpp"
#include "lt/learn/weights.hpp"

#include <ATen/ATen.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <fmt/format.h>
#include <torch/cuda.h>

#if LT_HAVE_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <map>
#include <sstream>
#include <thread>

namespace lt::dist {

// ---- the launch

namespace {

bool is_loopback(const std::string& host) {
    return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

void TimeoutOption::add_to(CLI::App& app) {
    app.add_option("--dist-timeout", seconds,
                   "Seconds a process of a data-parallel job waits for the others before it stops, naming them")
        ->check(cli::Positive)
        ->type_name("S")
        ->capture_default_str();
}

c10::Device device_of_rank(const c10::Device& device, const Launch& launch) {
    if (!device.is_cuda()) return device;
    const auto gpus = static_cast<int>(torch::cuda::device_count());
    const c10::Device mine(c10::kCUDA, static_cast<c10::DeviceIndex>(gpus > 0 ? launch.local_rank % gpus : 0));
    // The current device too: CUDA's context, cuDNN's and NCCL's state and
    // the caching allocators otherwise start on GPU 0 for every rank.
    if (gpus > 0) c10::impl::getDeviceGuardImpl(c10::kCUDA)->setDevice(mine);
    return mine;
}

void check_usage_once(const Launch& launch, const std::function<void()>& check) {
    try {
        check();
    } catch (const UsageError& error) {
        // Status 2 as rank 0's, whichever rank a launcher hears from first.
        if (launch.rank > 0) throw cli::AlreadyReported{2};
        throw;
    }
}

// ---- the group

#if LT_HAVE_C10D

// The process groups of one backend derive from c10d::Backend from
// LibTorch 2.0 on, from c10d::ProcessGroup before; the calls are the same.
#if LT_TORCH_AT_LEAST(2, 0)
using BackendGroup = c10d::Backend;
#else
using BackendGroup = c10d::ProcessGroup;
#endif

struct Group::State {
    c10::intrusive_ptr<c10d::Store> keys;  // this tool's namespace in the job's store
    c10::intrusive_ptr<BackendGroup> group;
    std::vector<int64_t> barrier_devices;  // NCCL: this process's GPU, which its barriers use
    std::chrono::milliseconds timeout{0};
    c10::Device device{c10::kCPU};  // where collective tensors live
    bool hosts_store = false;
    bool failed = false;  // the failure protocol ran: no further collectives
};

namespace {

constexpr std::chrono::milliseconds kStoreProbeTimeout{3000};
// How long a rank that leaves on a failure waits for the others to record
// theirs (they notice within milliseconds: the leaving rank closes its
// connections first), and how long rank 0 keeps the store up for them.
constexpr std::chrono::milliseconds kDepartureWait{1000};
constexpr std::chrono::milliseconds kStoreLinger{3000};

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string departure_key(int rank) { return fmt::format("left/{}", rank); }

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string ranks_text(const std::vector<int>& ranks, int world) {
    return fmt::format("{} {} of {}", ranks.size() == 1 ? "rank" : "ranks", fmt::join(ranks, ", "), world);
}

// Gloo's message for a peer that stopped sending: "Timed out waiting ...
// for recv", or c10d's "Socket Timeout" / "Operation timed out".
bool is_timeout(const std::string& what) {
    return what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos;
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& interfaces, const std::string& master) {
    if (!interfaces.empty()) {
        std::stringstream list(interfaces);
        std::string first;
        std::getline(list, first, ',');
        return c10d::ProcessGroupGloo::createDeviceForInterface(first);
    }
    if (is_loopback(master)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

// Closes the connections to the other ranks, so that those waiting for this
// one learn at once that it is leaving. A collective still in flight can keep
// the destructor waiting on a hung peer: it gets a moment, not more.
void close_group(c10::intrusive_ptr<BackendGroup>& group) {
    if (!group) return;
    auto closing = std::make_shared<std::promise<void>>();
    std::future<void> closed = closing->get_future();
    std::thread([group = std::move(group), closing]() mutable {
        try {
            group.reset();
        } catch (...) {
        }
        closing->set_value();
    }).detach();
    closed.wait_for(std::chrono::milliseconds(2000));
}

// c10d logs what it then throws ("[c10d] The client socket has timed out
// ..."), through glog where LibTorch was built with it (Debian's), through
// c10's own logging otherwise: lines of its own beside the job's one error.
// Both levels are variables of the loaded libraries, found by name (lt does
// not link glog); -v keeps the lines.
void quiet_library_logs() {
    if (log::level() >= 2) return;
    constexpr int kFatalOnly = 3;
    for (const char* name : {"_ZN3fLI17FLAGS_minloglevelE", "_ZN3fLI22FLAGS_caffe2_log_levelE",
                             "_ZN3c1022FLAGS_caffe2_log_levelE"})
        if (void* level = dlsym(RTLD_DEFAULT, name)) *static_cast<int*>(level) = kFatalOnly;
}

}  // namespace

Group::Group(const Launch& launch, const std::string& tool, std::chrono::milliseconds timeout,
             const c10::Device& device)
    : launch_(launch), state_(std::make_unique<State>()) {
    if (!distributed()) return;
    quiet_library_logs();
    State& state = *state_;
    state.timeout = timeout;
    state.device = device;
    const std::string where = fmt::format("{}:{}", launch.master_addr, launch.master_port);
    c10::intrusive_ptr<c10d::Store> store;
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(launch.master_port);
        state.hosts_store = launch.rank == 0 && !launch.agent_store;
        options.isServer = state.hosts_store;
        options.numWorkers = launch.world_size;
        options.waitWorkers = false;  // joining is checked below, naming the ranks that do not come
        options.timeout = timeout;
        try {
            store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
        } catch (const std::exception& error) {
#if LT_TORCH_AT_LEAST(2, 4)
            // From 2.4 on the store asks for libuv, which some LibTorch
            // builds (Debian 13's) lack: the older store serves then.
            if (std::string(error.what()).find("libuv") == std::string::npos) throw;
            options.useLibUV = false;
            store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
#else
            throw;
#endif
        }
    } catch (const std::exception& error) {
        throw Error(fmt::format("rank {} of {} cannot {} the job's rendezvous at {}: {}", launch.rank,
                                launch.world_size, state.hosts_store ? "host" : "reach", where,
                                first_line(error.what())),
                    state.hosts_store ? "another job may use MASTER_PORT; pick a free port"
                                      : "check that rank 0 runs and MASTER_ADDR/MASTER_PORT name its host");
    }
    // torchrun's agent store outlives restarts: each attempt has its own keys.
    if (launch.agent_store) store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + launch.restart, store);
    store = c10::make_intrusive<c10d::PrefixStore>("lt/" + tool, store);
    state.keys = c10::make_intrusive<c10d::PrefixStore>("job", store);
    try {
        state.keys->set(fmt::format("joined/{}", launch.rank), bytes_of("1"));
#if defined(USE_C10D_NCCL)
        if (device.is_cuda()) {
            auto options = c10d::ProcessGroupNCCL::Options::create();
            options->timeout = timeout;
            state.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
                c10::make_intrusive<c10d::PrefixStore>("nccl", store), launch.rank, launch.world_size, options);
            state.barrier_devices = {static_cast<int64_t>(device.index())};
        }
#else
        if (device.is_cuda() && launch.rank == 0)
            log::warn("this LibTorch has no NCCL: the job's collectives go over Gloo, slower on GPUs");
#endif
        if (!state.group) {
            auto options = c10d::ProcessGroupGloo::Options::create(timeout);
            const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
            options->devices.push_back(gloo_device(interfaces ? interfaces : "", launch.master_addr));
            options->threads = 2;
            state.group = c10::make_intrusive<c10d::ProcessGroupGloo>(
                c10::make_intrusive<c10d::PrefixStore>("gloo", store), launch.rank, launch.world_size, options);
        }
    } catch (const std::exception& error) {
        std::vector<int> absent;
        try {
            for (int r = 0; r < launch.world_size; ++r)
                if (!state.keys->check({fmt::format("joined/{}", r)})) absent.push_back(r);
        } catch (const std::exception&) {
        }
        state.failed = true;
        if (!absent.empty())
            throw Error(fmt::format("{} did not join the job within {} s", ranks_text(absent, launch.world_size),
                                    timeout.count() / 1000),
                        "start every rank (the launcher does), or give them longer with --dist-timeout");
        throw Error(fmt::format("rank {} of {} could not connect to the other ranks: {}", launch.rank,
                                launch.world_size, first_line(error.what())),
                    "on several machines, set GLOO_SOCKET_IFNAME to the interface they reach each other by");
    }
    log::verbose("rank {} of {} (local rank {}) joined the job through {} (started by {}), over {}", launch.rank,
                 launch.world_size, launch.local_rank, where, launch.launcher, state.group->getBackendName());
}

Group::~Group() {
    // After a failure a peer may be gone mid-collective: the process group
    // and the store are left to the process exit rather than waited on,
    // kept reachable (they are not leaks, the exit frees them).
    if (state_ && state_->failed) {
        static auto* kept = new std::vector<c10::intrusive_ptr<c10::intrusive_ptr_target>>;
        if (state_->group) kept->push_back(std::move(state_->group));
        if (state_->keys) kept->push_back(std::move(state_->keys));
        return;
    }
#if defined(USE_C10D_NCCL) && LT_TORCH_AT_LEAST(2, 4)
    // From 2.4 on, an NCCL group destroyed without shutdown() warns that the
    // program did not destroy it; shutting it down is that destruction.
    if (state_ && state_->group && state_->group->getBackendName() == "nccl") {
        try {
            c10::static_intrusive_pointer_cast<c10d::ProcessGroupNCCL>(state_->group)->shutdown();
        } catch (const std::exception&) {
        }
    }
#endif
}

void Group::record_departure(const std::string& key, const std::string& value) {
    try {
        state_->keys->setTimeout(kStoreProbeTimeout);
        state_->keys->set(key, bytes_of(value));
    } catch (const std::exception&) {
        // The store is gone; the caller finds out when it reads.
    }
}

namespace {

// The departures the other ranks recorded, waiting up to `wait` for those
// of `ranks`. Sets store_lost when the store cannot be read.
std::map<int, std::string> read_departures(c10d::Store& keys, const std::vector<int>& ranks,
                                           std::chrono::milliseconds wait, bool& store_lost) {
    std::map<int, std::string> found;
    store_lost = false;
    const auto until = std::chrono::steady_clock::now() + wait;
    try {
        for (;;) {
            for (int r : ranks) {
                if (found.count(r)) continue;
                const std::string key = departure_key(r);
                if (keys.check({key})) {
                    const std::vector<std::uint8_t> value = keys.get(key);
                    found[r] = std::string(value.begin(), value.end());
                }
            }
            if (found.size() == ranks.size() || std::chrono::steady_clock::now() >= until) return found;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    } catch (const std::exception&) {
        store_lost = true;
    }
    return found;
}

std::vector<int> other_ranks(int world, int me) {
    std::vector<int> ranks;
    for (int r = 0; r < world; ++r)
        if (r != me) ranks.push_back(r);
    return ranks;
}

}  // namespace

void Group::collective_failed(const std::exception& error) {
    State& state = *state_;
    const std::string what = first_line(error.what());
    if (state.failed) throw Error(fmt::format("a collective failed after an earlier failure: {}", what));
    state.failed = true;
    record_departure(departure_key(rank()), "peer");
    close_group(state.group);

    const std::vector<int> others = other_ranks(size(), rank());
    bool store_lost = false;
    // A rank that stops by its own error records it before it closes its
    // connections, so with two processes the other one's record is there
    // already, or never comes; with more, survivors take a moment to record.
    const std::map<int, std::string> seen = read_departures(
        *state.keys, others, size() == 2 ? std::chrono::milliseconds(0) : kDepartureWait, store_lost);
    const std::string activity = activity_.empty() ? "" : " " + activity_;
    if (store_lost) {
        if (launch_.agent_store)
            throw Error(fmt::format("the job's rendezvous (torchrun's agent at {}:{}) went away{}",
                                    launch_.master_addr, launch_.master_port, activity),
                        failure_hint_);
        throw Error(is_timeout(what) ? fmt::format("rank 0 of {}, which hosts the job's rendezvous, did not answer "
                                                   "for {} s{} (hung, or the network between the machines failed)",
                                                   size(), state.timeout.count() / 1000, activity)
                                     : fmt::format("rank 0 of {}, which hosts the job's rendezvous, stopped{} "
                                                   "(killed, out of memory, or its machine failed)",
                                                   size(), activity),
                    failure_hint_);
    }
    std::vector<int> vanished;
    int lowest_survivor = rank();
    bool reported = false;
    for (int r : others) {
        auto found = seen.find(r);
        if (found == seen.end())
            vanished.push_back(r);
        else if (found->second == "peer")
            lowest_survivor = std::min(lowest_survivor, r);
        else
            reported = true;
    }
    const auto linger = [&] {
        if (!state.hosts_store) return;
        std::vector<int> expected;
        for (int r : others)
            if (std::find(vanished.begin(), vanished.end(), r) == vanished.end()) expected.push_back(r);
        bool lost = false;
        read_departures(*state.keys, expected, kStoreLinger, lost);
    };
    // A rank that stopped with an error of its own prints it.
    if (reported || lowest_survivor != rank()) {
        linger();
        throw ReportedElsewhere("");
    }
    std::string message;
    std::string hint = failure_hint_;
    if (vanished.empty()) {
        message = fmt::format("a collective operation failed{}: {}", activity, what);
    } else if (is_timeout(what)) {
        message = fmt::format("{} did not answer for {} s{} (hung, or the network between the machines failed)",
                              ranks_text(vanished, size()), state.timeout.count() / 1000, activity);
        hint = "--dist-timeout S waits longer" + (hint.empty() ? "" : "; " + hint);
    } else {
        message = fmt::format("{} stopped{} (killed, out of memory, or its machine failed)",
                              ranks_text(vanished, size()), activity);
    }
    linger();
    throw Error(message, hint);
}

void Group::run(const std::function<void()>& work) {
    if (!distributed()) {
        work();
        return;
    }
    try {
        work();
        barrier();  // no rank leaves (rank 0 takes the store with it) while another still works
    } catch (const std::exception& error) {
        State& state = *state_;
        if (state.failed) throw;  // a failed collective, already turned into the job's one error
        state.failed = true;
        const std::string mine = std::string("error: ") + error.what();
        record_departure(departure_key(rank()), mine);
        close_group(state.group);
        bool store_lost = false;
        // An error every rank meets alike (a missing image of the list, a
        // diverging loss) is printed by the lowest rank that meets it.
        std::vector<int> lower;
        for (int r = 0; r < rank(); ++r) lower.push_back(r);
        const std::map<int, std::string> seen = read_departures(*state.keys, lower, kDepartureWait, store_lost);
        const bool same_below =
            std::any_of(seen.begin(), seen.end(), [&](const auto& entry) { return entry.second == mine; });
        if (state.hosts_store) read_departures(*state.keys, other_ranks(size(), rank()), kStoreLinger, store_lost);
        if (same_below && dynamic_cast<const UsageError*>(&error)) throw cli::AlreadyReported{2};
        if (same_below) throw ReportedElsewhere(error.what());
        throw;
    }
}

// Runs of tensors of one dtype and device, flattened into buckets of up to
// 64 MB, one collective per bucket. (c10d's broadcast_coalesced does this
// too, but takes a c10d::ProcessGroup, which a Backend is not from 2.0 on.)
void Group::broadcast(const std::vector<at::Tensor>& tensors, int root) {
    if (!distributed() || tensors.empty()) return;
    if (!state_->group) throw Error("the job's process group is closed");
    try {
        constexpr std::int64_t kBucketBytes = std::int64_t{64} << 20;
        at::NoGradGuard no_grad;
        c10d::BroadcastOptions options;
        options.rootRank = root;
        std::size_t first = 0;
        while (first < tensors.size()) {
            const at::Tensor& head = tensors[first];
            std::size_t end = first + 1;
            std::int64_t bytes = head.numel() * head.element_size();
            while (end < tensors.size() && tensors[end].scalar_type() == head.scalar_type() &&
                   tensors[end].device() == head.device() &&
                   bytes + tensors[end].numel() * tensors[end].element_size() <= kBucketBytes) {
                bytes += tensors[end].numel() * tensors[end].element_size();
                ++end;
            }
            std::vector<at::Tensor> flat_parts;
            for (std::size_t i = first; i < end; ++i) flat_parts.push_back(tensors[i].reshape({-1}));
            std::vector<at::Tensor> bucket{at::cat(flat_parts)};
            state_->group->broadcast(bucket, options)->wait();
            if (rank() != root) {
                std::int64_t offset = 0;
                for (std::size_t i = first; i < end; ++i) {
                    const std::int64_t n = tensors[i].numel();
                    tensors[i].copy_(bucket[0].narrow(0, offset, n).view(tensors[i].sizes()));
                    offset += n;
                }
            }
            first = end;
        }
    } catch (const std::exception& error) {
        collective_failed(error);
    }
}

void Group::allreduce_sum(const std::vector<at::Tensor>& tensors) {
    if (!distributed()) return;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    try {
        if (!state_->group) throw Error("the job's process group is closed");
        for (const at::Tensor& tensor : tensors) {
            std::vector<at::Tensor> one{tensor};
            works.push_back(state_->group->allreduce(one));
        }
        for (auto& work : works) work->wait();
    } catch (const std::exception& error) {
        collective_failed(error);
    }
}

void Group::gather(const at::Tensor& input, std::vector<at::Tensor>& outputs, int root) {
    if (!distributed()) {
        outputs = {input.clone()};
        return;
    }
    try {
        if (!state_->group) throw Error("the job's process group is closed");
        std::vector<std::vector<at::Tensor>> nested;
        if (rank() == root) {
            outputs.clear();
            for (int r = 0; r < size(); ++r) outputs.push_back(at::empty_like(input));
            nested.push_back(outputs);
        }
        std::vector<at::Tensor> inputs{input};
        c10d::GatherOptions options;
        options.rootRank = root;
        state_->group->gather(nested, inputs, options)->wait();
    } catch (const std::exception& error) {
        collective_failed(error);
    }
}

void Group::barrier() {
    if (!distributed()) return;
    try {
        if (!state_->group) throw Error("the job's process group is closed");
        c10d::BarrierOptions options;
        options.device_ids = state_->barrier_devices;  // else NCCL guesses the GPU from the rank
        state_->group->barrier(options)->wait();
    } catch (const std::exception& error) {
        collective_failed(error);
    }
}

bool Group::same_as_root(const std::string& text) {
    if (!distributed()) return true;
    const auto digest = static_cast<std::int64_t>(weights::fnv1a(text.data(), text.size()));
    at::Tensor shared = at::full({1}, digest, at::TensorOptions(at::kLong).device(state_->device));
    broadcast({shared});
    return shared.to(at::kCPU).item<std::int64_t>() == digest;
}

namespace {
class PendingWork : public Group::Pending {
public:
    PendingWork(c10::intrusive_ptr<c10d::Work> work, std::function<void(const std::exception&)> on_failure)
        : work_(std::move(work)), on_failure_(std::move(on_failure)) {}
    void finish() override {
        if (!work_) return;
        try {
            work_->wait();
        } catch (const std::exception& error) {
            work_.reset();
            on_failure_(error);
        }
        work_.reset();
    }

private:
    c10::intrusive_ptr<c10d::Work> work_;
    std::function<void(const std::exception&)> on_failure_;
};
}  // namespace

std::unique_ptr<Group::Pending> Group::allreduce_sum_async(const at::Tensor& tensor) {
    if (!distributed()) return std::make_unique<PendingWork>(c10::intrusive_ptr<c10d::Work>(), nullptr);
    c10::intrusive_ptr<c10d::Work> work;
    try {
        if (!state_->group) throw Error("the job's process group is closed");
        std::vector<at::Tensor> one{tensor};
        work = state_->group->allreduce(one);
    } catch (const std::exception& error) {
        collective_failed(error);
    }
    return std::make_unique<PendingWork>(std::move(work),
                                         [this](const std::exception& error) { collective_failed(error); });
}

#else  // LibTorch without c10d: one process only

struct Group::State {};

Group::Group(const Launch& launch, const std::string&, std::chrono::milliseconds, const c10::Device&)
    : launch_(launch), state_(std::make_unique<State>()) {
    if (distributed())
        throw Error(fmt::format("{} started {} processes, but this lt was built without LibTorch's c10d",
                                launch.launcher, launch.world_size),
                    "rebuild with libgloo-dev installed (scripts/setup.sh)");
}
Group::~Group() = default;
void Group::record_departure(const std::string&, const std::string&) {}
void Group::collective_failed(const std::exception& error) { throw Error(error.what()); }
void Group::run(const std::function<void()>& work) { work(); }
void Group::broadcast(const std::vector<at::Tensor>&, int) {}
void Group::allreduce_sum(const std::vector<at::Tensor>&) {}
void Group::gather(const at::Tensor& input, std::vector<at::Tensor>& outputs, int) { outputs = {input.clone()}; }
void Group::barrier() {}
bool Group::same_as_root(const std::string&) { return true; }
namespace {
class Done : public Group::Pending {
public:
    void finish() override {}
};
}  // namespace
std::unique_ptr<Group::Pending> Group::allreduce_sum_async(const at::Tensor&) { return std::make_unique<Done>(); }

#endif

}  // namespace lt::dist
