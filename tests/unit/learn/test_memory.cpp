// The reusing tensor allocator: freed large blocks come back for requests of
// about their size, small ones go to the system, and what is held stays
// within 1.5 times the most ever in use at once.
#include "lt/learn/memory.hpp"

// torch first: its glog CHECK would replace doctest's.
#include <torch/torch.h>
#include <doctest/doctest.h>

TEST_CASE("tensor memory: large blocks are kept and reused, with their values recomputed alike") {
    lt::memory::reuse_tensor_memory();
    lt::memory::reuse_tensor_memory();  // a second call changes nothing
    const std::int64_t floats = 1 << 20;  // 4 MiB
    const void* first = nullptr;
    {
        torch::Tensor a = torch::ones({floats});
        first = a.data_ptr();
        CHECK(reinterpret_cast<std::uintptr_t>(first) % 64 == 0);
    }
    const std::size_t held = lt::memory::held_bytes();
    CHECK(held >= floats * sizeof(float));
    {
        torch::Tensor b = torch::empty({floats});  // the same size: the same block
        CHECK(b.data_ptr() == first);
        CHECK(lt::memory::held_bytes() == held);
    }
    {
        torch::Tensor c = torch::empty({floats * 3 / 4});  // a free block up to twice the request serves it
        CHECK(c.data_ptr() == first);
        CHECK(lt::memory::held_bytes() == held);
        torch::Tensor d = torch::empty({floats / 4});  // four times: a new block
        CHECK(d.data_ptr() != first);
    }
    // A network's passes: the same values from reused memory, and no growth
    // once the passes repeat.
    torch::manual_seed(0);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(8, 32, 3).padding(1));
    const torch::Tensor input = torch::randn({16, 8, 64, 64});
    const auto pass = [&] { return conv->forward(input).relu().sum({0}); };
    const torch::Tensor once = pass();
    for (int i = 0; i < 2; ++i) CHECK(torch::equal(pass(), once));
    const std::size_t steady = lt::memory::held_bytes();
    for (int i = 0; i < 3; ++i) CHECK(torch::equal(pass(), once));
    CHECK(lt::memory::held_bytes() == steady);
    // Small tensors and empty ones work as ever.
    CHECK(torch::arange(5).sum().item<std::int64_t>() == 10);
    CHECK(torch::empty({0}).numel() == 0);
}
