// Where this process sits in a job started by a launcher (torchrun, srun),
// read from the variables the launcher sets. Apart from LibTorch: the tool
// runner needs the rank before any option is parsed (a usage error is
// printed by rank 0 only), and the process group of lt/learn/distributed.hpp
// is built from it.
#pragma once

#include <functional>
#include <string>

namespace lt::dist {

// Where this process sits in a launched job.
struct Launch {
    int rank = 0, world_size = 1, local_rank = 0;
    std::string launcher;      // "torchrun", "srun" or "" (not launched)
    std::string master_addr;   // the rendezvous host and port
    int master_port = 0;
    bool agent_store = false;  // torchrun's agent hosts the store (multi-node rendezvous)
    std::string restart;       // torchrun's restart count: the store namespace of this attempt

    bool distributed() const { return world_size > 1; }
};

// Variable name -> value ("" when unset).
using Environment = std::function<std::string(const std::string&)>;

// The launch described by env. torchrun's variables win over SLURM's. SLURM's
// count only inside a job step (srun sets SLURM_STEP_ID; a batch script's own
// SLURM_NTASKS describes the allocation, not this process). Inconsistent or
// missing values (RANK without WORLD_SIZE, no MASTER_ADDR) throw UsageError.
Launch read_launch(const Environment& env);
Launch read_launch();  // from the process environment

}  // namespace lt::dist
