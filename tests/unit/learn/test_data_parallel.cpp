// Data-parallel pieces that one process can check: the launch read from the
// environment, SyncBatchNorm against BatchNorm's closed form (the statistics
// of two identical processes are those of one), and the gradient buckets in a
// job of one against plain backward passes. Jobs of several processes are
// checked end to end by tests/cli/distributed.sh.
#include "lt/base/error.hpp"
#include "lt/learn/data_parallel.hpp"
#include "lt/learn/distributed.hpp"
#include "lt/learn/models.hpp"

// torch first: its glog CHECK would replace doctest's.
#include <torch/torch.h>
#include <doctest/doctest.h>

#include <map>

using lt::dist::Launch;

namespace {

lt::dist::Environment environment(std::map<std::string, std::string> variables) {
    return [variables](const std::string& name) {
        auto found = variables.find(name);
        return found == variables.end() ? std::string() : found->second;
    };
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("launch: torchrun's variables, SLURM's inside a job step, nothing otherwise") {
    const Launch none = lt::dist::read_launch(environment({}));
    CHECK(none.world_size == 1);
    CHECK(none.rank == 0);
    CHECK_FALSE(none.distributed());

    const Launch torchrun = lt::dist::read_launch(environment({{"RANK", "3"},
                                                               {"WORLD_SIZE", "4"},
                                                               {"LOCAL_RANK", "1"},
                                                               {"MASTER_ADDR", "node7"},
                                                               {"MASTER_PORT", "29511"},
                                                               {"TORCHELASTIC_RUN_ID", "x"},
                                                               {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                                               {"TORCHELASTIC_RESTART_COUNT", "2"}}));
    CHECK(torchrun.rank == 3);
    CHECK(torchrun.world_size == 4);
    CHECK(torchrun.local_rank == 1);
    CHECK(torchrun.master_addr == "node7");
    CHECK(torchrun.master_port == 29511);
    CHECK(torchrun.agent_store);
    CHECK(torchrun.restart == "2");
    CHECK(torchrun.launcher == "torchrun");

    const Launch srun = lt::dist::read_launch(environment({{"SLURM_STEP_ID", "0"},
                                                           {"SLURM_PROCID", "5"},
                                                           {"SLURM_NTASKS", "8"},
                                                           {"SLURM_LOCALID", "1"},
                                                           {"MASTER_ADDR", "n1"}}));
    CHECK(srun.launcher == "srun");
    CHECK(srun.rank == 5);
    CHECK(srun.world_size == 8);
    CHECK(srun.local_rank == 1);
    CHECK(srun.master_port == 29500);  // PyTorch's default port

    // A batch script sees its allocation's SLURM_NTASKS but is no task of a step.
    const Launch batch_script =
        lt::dist::read_launch(environment({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_JOB_ID", "9"}}));
    CHECK_FALSE(batch_script.distributed());
}

TEST_CASE("launch: inconsistent variables are usage errors") {
    CHECK_THROWS_AS(lt::dist::read_launch(environment({{"RANK", "0"}})), lt::UsageError);
    CHECK_THROWS_AS(lt::dist::read_launch(environment({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}})),
                    lt::UsageError);
    CHECK_THROWS_AS(lt::dist::read_launch(environment({{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}})),
                    lt::UsageError);
    CHECK_THROWS_WITH_AS(lt::dist::read_launch(environment({{"RANK", "0"}, {"WORLD_SIZE", "2"}})),
                         doctest::Contains("MASTER_ADDR"), lt::UsageError);
    CHECK_THROWS_AS(lt::dist::read_launch(environment(
                        {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})),
                    lt::UsageError);
    // A local rank that names no process of its machine (two processes on one GPU).
    CHECK_THROWS_WITH_AS(lt::dist::read_launch(environment({{"RANK", "3"},
                                                            {"WORLD_SIZE", "4"},
                                                            {"LOCAL_RANK", "2"},
                                                            {"LOCAL_WORLD_SIZE", "2"},
                                                            {"MASTER_ADDR", "h"}})),
                         doctest::Contains("LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2"), lt::UsageError);
    CHECK_THROWS_WITH_AS(lt::dist::read_launch(environment({{"SLURM_STEP_ID", "0"},
                                                            {"SLURM_PROCID", "1"},
                                                            {"SLURM_NTASKS", "4"},
                                                            {"SLURM_LOCALID", "2"},
                                                            {"MASTER_ADDR", "h"}})),
                         doctest::Contains("SLURM_LOCALID=2 is above the global rank 1"), lt::UsageError);
    CHECK(lt::dist::read_launch(environment({{"RANK", "3"},
                                             {"WORLD_SIZE", "4"},
                                             {"LOCAL_RANK", "1"},
                                             {"LOCAL_WORLD_SIZE", "2"},
                                             {"MASTER_ADDR", "h"}}))
              .local_rank == 1);
    // One process needs no rendezvous.
    CHECK_FALSE(lt::dist::read_launch(environment({{"RANK", "0"}, {"WORLD_SIZE", "1"}})).distributed());
}

TEST_CASE("SyncBatchNorm: the statistics of two identical processes are those of one") {
    // Summing over "two processes" that hold the same batch doubles every sum:
    // mean, variance and gradients must be BatchNorm's own. In double
    // precision: in float, the gradients of an untrained ResNet differ by
    // percents between any two summation orders (BatchNorm's own included).
    torch::manual_seed(3);
    auto plain = lt::models::make_backbone("resnet20");
    torch::manual_seed(3);
    auto synced = lt::models::make_backbone("resnet20");
    int sums = 0;
    synced->synchronize_batch_norm([&sums](torch::Tensor& values) {
        values.mul_(2);
        ++sums;
    });
    for (auto* backbone : {plain.get(), synced.get()}) {
        backbone->to(torch::kDouble);
        backbone->train();
    }
    const torch::Tensor images = torch::randn({6, 3, 16, 16}, torch::kDouble);
    const torch::Tensor a = plain->forward(images), b = synced->forward(images);
    CHECK(sums == 21);  // one per BatchNorm layer (19, and 2 in shortcuts) in the forward pass
    CHECK(max_difference(a, b) < 1e-10);
    (a * a).sum().backward();
    (b * b).sum().backward();
    CHECK(sums == 42);  // and one per layer in the backward pass
    auto synced_parameters = synced->named_parameters();
    for (const auto& item : plain->named_parameters()) {
        INFO(item.key());
        CHECK(max_difference(item.value().grad(), synced_parameters[item.key()].grad()) < 1e-9);
    }
    // The running variance is unbiased over all the processes' images: 2n-1
    // in the denominator, not n-1. One step from (0, 1) with momentum 0.1.
    auto synced_buffers = synced->named_buffers();
    for (const auto& item : plain->named_buffers()) {
        INFO(item.key());
        const torch::Tensor& theirs = synced_buffers[item.key()];
        if (item.key().find("num_batches") != std::string::npos) {
            CHECK(item.value().item<std::int64_t>() == theirs.item<std::int64_t>());
        } else if (item.key().find("running_var") != std::string::npos) {
            const double n = item.key() == "bn1.running_var" ? 6 * 16 * 16 : 0;
            if (n == 0) continue;  // the stem's count is known; deeper layers have other sizes
            const torch::Tensor biased = (item.value() - 0.9) / 0.1 * (n - 1) / n;
            CHECK(max_difference((theirs - 0.9) / 0.1, biased * (2 * n) / (2 * n - 1)) < 1e-9);
        } else {
            CHECK(max_difference(item.value(), theirs) < 1e-12);
        }
    }
    // In eval mode the running statistics are used, without any sum.
    synced->eval();
    synced->forward(images);
    CHECK(sums == 42);
}

TEST_CASE("gradient buckets: in a job of one, the gradients of plain backward passes") {
    const Launch one;
    lt::dist::Group group(one, "test", std::chrono::seconds(5), torch::kCPU);
    torch::manual_seed(1);
    auto model = std::make_shared<lt::models::Model>("resnet20", 5);
    // Small buckets: several of them, each launched when its gradients are in.
    lt::dist::GradientBuckets buckets(model->parameters(), group, 4096, 16384);
    CHECK(buckets.bucket_count() > 3);
    const torch::Tensor images = torch::randn({8, 3, 16, 16});
    const torch::Tensor targets = torch::tensor({0, 1, 2, 3, 4, 0, 1, 2}, torch::kLong);
    const auto loss_of = [&](std::int64_t first, std::int64_t count) {
        return torch::nll_loss(torch::log_softmax(model->forward(images.narrow(0, first, count)), 1),
                               targets.narrow(0, first, count));
    };

    model->zero_grad();
    (loss_of(0, 4) / 2).backward();
    (loss_of(4, 4) / 2).backward();
    std::vector<torch::Tensor> expected;
    for (const auto& p : model->parameters()) expected.push_back(p.grad().clone());

    model->zero_grad();
    (loss_of(0, 4) / 2).backward();
    buckets.arm(/*accumulated=*/true, 1.25);
    (loss_of(4, 4) / 2).backward();
    CHECK(buckets.finish() == doctest::Approx(1.25));
    const auto parameters = model->parameters();
    for (std::size_t i = 0; i < parameters.size(); ++i) CHECK(max_difference(parameters[i].grad(), expected[i]) == 0);

    // Unarmed, the hooks stay out of the way; finishing then is a bug.
    model->zero_grad();
    loss_of(0, 8).backward();
    CHECK_THROWS_AS(buckets.finish(), lt::Error);
}
