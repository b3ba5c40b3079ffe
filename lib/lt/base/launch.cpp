#include "lt/base/launch.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace lt::dist {

namespace {

int parse_number(const std::string& name, const std::string& text, int minimum) {
    std::size_t end = 0;
    int value = 0;
    try {
        value = std::stoi(text, &end);
    } catch (const std::exception&) {
        end = 0;
    }
    if (end == 0 || end != text.size() || value < minimum)
        throw UsageError(fmt::format("the launcher set {}={}, which is not a number >= {}", name, text, minimum),
                         "start data-parallel runs with torchrun or srun (man lt-train, Data-parallel training)");
    return value;
}

}  // namespace

Launch read_launch(const Environment& env) {
    Launch launch;
    std::string rank, world, local;
    if (!env("RANK").empty() || !env("WORLD_SIZE").empty()) {
        if (env("RANK").empty() || env("WORLD_SIZE").empty())
            throw UsageError(fmt::format("{} is set but {} is not", env("RANK").empty() ? "WORLD_SIZE" : "RANK",
                                         env("RANK").empty() ? "RANK" : "WORLD_SIZE"),
                             "a launcher sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT together");
        launch.launcher = env("TORCHELASTIC_RUN_ID").empty() ? "a launcher" : "torchrun";
        rank = env("RANK"), world = env("WORLD_SIZE"), local = env("LOCAL_RANK");
    } else if (!env("SLURM_STEP_ID").empty() && !env("SLURM_PROCID").empty() && !env("SLURM_NTASKS").empty()) {
        launch.launcher = "srun";
        rank = env("SLURM_PROCID"), world = env("SLURM_NTASKS"), local = env("SLURM_LOCALID");
    } else {
        return launch;
    }
    const bool slurm = launch.launcher == "srun";
    launch.rank = parse_number(slurm ? "SLURM_PROCID" : "RANK", rank, 0);
    launch.world_size = parse_number(slurm ? "SLURM_NTASKS" : "WORLD_SIZE", world, 1);
    launch.local_rank = local.empty() ? 0 : parse_number(slurm ? "SLURM_LOCALID" : "LOCAL_RANK", local, 0);
    if (launch.rank >= launch.world_size)
        throw UsageError(fmt::format("rank {} is not below the world size {}", launch.rank, launch.world_size));
    // The local rank picks the GPU and the share of the cores: a wrong one
    // puts two processes on one GPU. A machine's ranks are numbered from 0
    // in global rank order, so none exceeds its global rank.
    const std::string local_name = slurm ? "SLURM_LOCALID" : "LOCAL_RANK";
    const std::string local_world = slurm ? "" : env("LOCAL_WORLD_SIZE");
    if (!local_world.empty() && launch.local_rank >= parse_number("LOCAL_WORLD_SIZE", local_world, 1))
        throw UsageError(fmt::format("{}={} is not below LOCAL_WORLD_SIZE={}", local_name, launch.local_rank,
                                     local_world));
    if (launch.local_rank > launch.rank)
        throw UsageError(fmt::format("{}={} is above the global rank {}", local_name, launch.local_rank, launch.rank),
                         "a launcher numbers the processes of each machine from 0 (LOCAL_RANK) within the "
                         "global ranks (RANK)");
    if (!launch.distributed()) return launch;
    launch.master_addr = env("MASTER_ADDR");
    if (launch.master_addr.empty())
        throw UsageError(fmt::format("{} started {} processes, but MASTER_ADDR is not set", launch.launcher,
                                     launch.world_size),
                         "export MASTER_ADDR=<host of rank 0> (and MASTER_PORT=<a free port>) in the job script");
    launch.master_port = env("MASTER_PORT").empty() ? 29500 : parse_number("MASTER_PORT", env("MASTER_PORT"), 1);
    if (launch.master_port > 65535)
        throw UsageError(fmt::format("MASTER_PORT={} is not a TCP port", launch.master_port));
    launch.agent_store = env("TORCHELASTIC_USE_AGENT_STORE") == "True";
    launch.restart = env("TORCHELASTIC_RESTART_COUNT").empty() ? "0" : env("TORCHELASTIC_RESTART_COUNT");
    return launch;
}

Launch read_launch() {
    return read_launch([](const std::string& name) {
        const char* value = std::getenv(name.c_str());
        return std::string(value ? value : "");
    });
}

}  // namespace lt::dist
