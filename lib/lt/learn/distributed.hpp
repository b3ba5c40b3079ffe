// The processes of a data-parallel job, over LibTorch's c10d: a process group
// from the environment a launcher sets (torchrun, srun), its collectives, and
// what happens when a process of the job fails.
//
//   torchrun: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and
//             TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT)
//   srun:     SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and
//             MASTER_PORT given by the job script
//
// Without them a tool is one process, rank 0 of 1, and every collective
// returns at once. Rank 0 hosts the rendezvous store (a c10d::TCPStore on
// MASTER_PORT), as PyTorch's env:// does, unless torchrun's agent hosts it.
// Tensors travel over Gloo on the CPU, over NCCL on CUDA when the LibTorch
// lt was built with has it (Gloo otherwise).
//
// Failures. A collective that cannot complete (a process was killed, ran out
// of memory or stopped with an error; a machine or the network went away; a
// process hung for longer than the timeout) ends every process of the job,
// with one error line for the whole job that names the rank at fault:
//   - a process stopped by an error of its own prints it; the others exit
//     with status 1 and print nothing;
//   - a process that vanished (SIGKILL, OOM, a lost machine) or stopped
//     answering is named by the lowest-ranked survivor;
// through keys in the store: every process that leaves on a failure records
// why, and the processes that recorded nothing are the ones that vanished.
#pragma once

#include "lt/base/launch.hpp"

#include <ATen/core/Tensor.h>
#include <CLI/CLI.hpp>
#include <c10/core/Device.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lt::dist {

// --dist-timeout SECONDS: how long a process waits for the others of its
// job (to join, and in each collective) before it gives up, naming them.
struct TimeoutOption {
    int seconds = 600;
    void add_to(CLI::App& app);
    std::chrono::milliseconds value() const { return std::chrono::seconds(seconds); }
};


// Runs check, which throws the usage errors of the command line: every rank
// of a job meets them alike, so rank 0 alone prints them (the others exit 2
// without a line).
void check_usage_once(const Launch& launch, const std::function<void()>& check);

// The device of this process: cuda becomes the GPU of its local rank
// (LOCAL_RANK, SLURM_LOCALID), modulo the GPUs visible.
c10::Device device_of_rank(const c10::Device& device, const Launch& launch);

// The c10d process group of the job, or a group of one.
class Group {
public:
    // Joins the job: a collective call of every rank. timeout bounds every
    // wait on the other processes (the rendezvous and each collective).
    // device is where collective tensors live (cuda: NCCL when available).
    Group(const Launch& launch, const std::string& tool, std::chrono::milliseconds timeout, const c10::Device& device);
    ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    int rank() const { return launch_.rank; }
    int size() const { return launch_.world_size; }
    bool distributed() const { return launch_.world_size > 1; }
    bool is_root() const { return launch_.rank == 0; }
    const Launch& launch() const { return launch_; }

    // What the job is doing, for the error that names a failed rank
    // ("epoch 3 of 30"), and the hint that error carries.
    void set_activity(const std::string& activity) { activity_ = activity; }
    void set_failure_hint(const std::string& hint) { failure_hint_ = hint; }

    // Blocking collectives, in place. Every rank must make the same calls in
    // the same order.
    void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
    void allreduce_sum(const std::vector<at::Tensor>& tensors);
    // Rank root receives every rank's input (all of one shape) in outputs,
    // by rank; the others pass an empty vector.
    void gather(const at::Tensor& input, std::vector<at::Tensor>& outputs, int root = 0);
    void barrier();
    // Whether rank 0 gave the same text (what defines the computation: the
    // options, the fingerprints of the inputs). A collective call.
    bool same_as_root(const std::string& text);

    // An allreduce (sum) in flight; finish() waits for it.
    class Pending {
    public:
        virtual ~Pending() = default;
        virtual void finish() = 0;
    };
    std::unique_ptr<Pending> allreduce_sum_async(const at::Tensor& tensor);

    // Runs the tool's work: an error of this process is recorded for the
    // others before it is rethrown (or replaced by ReportedElsewhere when a
    // lower rank reports the same error), a failed collective becomes the
    // one error that names the rank at fault. Ends with a barrier, so no
    // process leaves while another still needs it.
    void run(const std::function<void()>& work);

    struct State;

private:
    [[noreturn]] void collective_failed(const std::exception& error);
    void record_departure(const std::string& key, const std::string& value);

    Launch launch_;
    std::string activity_, failure_hint_;
    std::unique_ptr<State> state_;
};

}  // namespace lt::dist
