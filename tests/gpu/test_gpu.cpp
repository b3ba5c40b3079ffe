// GPU tests: the same computations on cuda and on cpu must agree. Built by
// tests/gpu/CMakeLists.txt against a CUDA-enabled LibTorch; skipped (exit 77)
// when no GPU is visible.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "lt/learn/models.hpp"
#include "lt/learn/precision.hpp"
#include "lt/math/scorer.hpp"
#include "lt/math_torch/backend.hpp"
#include "lt/transfer/attend.hpp"
#include "lt/transfer/eval.hpp"

#include <ATen/Context.h>
#include <torch/nn/functional/loss.h>

#include <cstdio>
#include <random>

namespace {

lt::Matrix random_matrix(std::int64_t rows, std::int64_t cols, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal;
    lt::Matrix m(rows, cols);
    for (auto& v : m.values) v = normal(generator);
    return m;
}

}  // namespace

TEST_CASE("the backbone gives the same features on cuda and cpu") {
    torch::manual_seed(0);
    auto backbone = lt::models::make_backbone("resnet18");
    backbone->eval();
    torch::Tensor images = torch::randn({4, 3, 224, 224});
    torch::NoGradGuard no_grad;
    torch::Tensor on_cpu = backbone->forward(images);
    backbone->to(torch::kCUDA);
    torch::Tensor on_gpu = backbone->forward(images.to(torch::kCUDA)).cpu();
    double difference = (on_cpu - on_gpu).abs().max().item<double>();
    MESSAGE("resnet18 features, max |cpu - cuda| = " << difference);
    CHECK(difference < 1e-3);
}

TEST_CASE("a training step runs on cuda") {
    torch::manual_seed(0);
    lt::models::Model model("resnet20", 10);
    model.to(torch::kCUDA);
    model.train();
    torch::Tensor images = torch::randn({8, 3, 32, 32}, torch::kCUDA);
    torch::Tensor labels = torch::randint(0, 10, {8}, torch::TensorOptions().dtype(torch::kLong).device(torch::kCUDA));
    torch::Tensor loss = torch::nn::functional::cross_entropy(model.forward(images), labels);
    loss.backward();
    CHECK(std::isfinite(loss.item<double>()));
    for (const auto& parameter : model.parameters()) {
        REQUIRE(parameter.grad().defined());
        CHECK(parameter.grad().is_cuda());
    }
}

TEST_CASE("composition on cuda equals composition on cpu") {
    lt::Classifier classifier;
    classifier.weights = random_matrix(50, 64, 1);
    for (int i = 0; i < 50; ++i) {
        classifier.class_ids.push_back(i);
        classifier.class_counts.push_back(300 / (i + 1));
    }
    lt::Prototypes prototypes;
    prototypes.prototypes = random_matrix(50, 64, 2);
    prototypes.class_ids = classifier.class_ids;
    prototypes.counts = classifier.class_counts;
    lt::attend::Settings settings;
    settings.k = 20;
    auto on_cpu = lt::attend::compose(classifier, prototypes, settings, lt::math::cpu_backend());
    auto on_gpu = lt::attend::compose(classifier, prototypes, settings, lt::math_torch::backend("cuda"));
    for (std::size_t i = 0; i < on_cpu.weights.values.size(); ++i)
        CHECK(on_cpu.weights.values[i] == doctest::Approx(on_gpu.weights.values[i]).epsilon(1e-6));
    // A large tau takes the double path.
    settings.tau = 1e6;
    on_cpu = lt::attend::compose(classifier, prototypes, settings, lt::math::cpu_backend());
    on_gpu = lt::attend::compose(classifier, prototypes, settings, lt::math_torch::backend("cuda"));
    for (std::size_t i = 0; i < on_cpu.weights.values.size(); ++i)
        CHECK(on_cpu.weights.values[i] == doctest::Approx(on_gpu.weights.values[i]).epsilon(1e-6));
}

TEST_CASE("the top-k scorer on cuda agrees with the OpenBLAS one") {
    lt::Matrix weights = random_matrix(300, 64, 5), queries = random_matrix(500, 64, 6);
    lt::math::TopScorer on_cpu(weights.values.data(), 300, 64, true, nullptr, lt::math::cpu_backend(),
                               lt::math::Screen::never);
    lt::math::TopScorer on_gpu(weights.values.data(), 300, 64, true, nullptr, lt::math_torch::backend("cuda"));
    lt::math::QueryBlock block;
    block.assign(queries.values.data(), 500, 64);
    lt::math::TopRequest request;
    request.k = 5;
    lt::math::TopResult expected, actual;
    on_cpu.top(block, request, expected);
    on_gpu.top(block, request, actual);
    // Scores agree to float rounding; a near tie may order two columns apart.
    int differ = 0;
    for (std::size_t i = 0; i < expected.values.size(); ++i) {
        CHECK(actual.values[i] == doctest::Approx(expected.values[i]).epsilon(1e-5));
        differ += actual.columns[i] != expected.columns[i];
    }
    CHECK(differ <= 4);
}

TEST_CASE("evaluation on cuda equals evaluation on cpu") {
    std::string path = "/tmp/lt-gpu-test-features.h5";
    lt::Matrix features = random_matrix(3000, 64, 3);
    std::vector<std::int64_t> labels;
    for (int i = 0; i < 3000; ++i) labels.push_back(i % 50);
    {
        lt::h5::OutputFile out(path, "features");
        lt::write_features(out, features, labels);
        out.commit();
    }
    lt::Classifier classifier;
    classifier.weights = random_matrix(50, 64, 4);
    for (int i = 0; i < 50; ++i) {
        classifier.class_ids.push_back(i);
        classifier.class_counts.push_back(300 / (i + 1));
    }
    lt::ClassifierSet single{"single", {classifier}};
    lt::ClassifierSet ensemble{"ensemble", {classifier, classifier}};
    ensemble.members[1].scale = 3;
    lt::FeaturesReader reader(path);
    lt::eval::Settings cpu, cuda;
    cuda.device = "cuda";
    auto expected = lt::eval::evaluate(reader, {single, ensemble}, cpu);
    auto actual = lt::eval::evaluate(reader, {single, ensemble}, cuda);
    for (std::size_t s = 0; s < expected.size(); ++s) {
        CHECK(actual[s].total == doctest::Approx(expected[s].total));
        CHECK(actual[s].many == doctest::Approx(expected[s].many));
        CHECK(actual[s].few == doctest::Approx(expected[s].few));
        CHECK(actual[s].top5 == doctest::Approx(expected[s].top5));
    }
    std::remove(path.c_str());
}

TEST_CASE("--amp on cuda: channels_last, bf16 and fp16 features near float32; fp16 gradients through the scaler") {
    torch::manual_seed(0);
    auto backbone = lt::models::make_backbone("resnet18");
    backbone->to(torch::kCUDA);
    backbone->eval();
    const torch::Tensor images = torch::randn({4, 3, 224, 224}, torch::kCUDA);
    torch::Tensor exact;
    {
        torch::NoGradGuard no_grad;
        exact = backbone->forward(images);
    }
    lt::Compute compute;
    compute.tf32 = false;  // what main() sets too
    for (const char* amp : {"off", "bf16", "fp16"}) {
        CAPTURE(amp);
        compute.amp = amp;
        const auto settings = lt::precision::configure(compute, at::Device(at::kCUDA, 0));
        CHECK(settings.channels_last);
        lt::precision::prepare(*backbone, settings);
        torch::NoGradGuard no_grad;
        lt::precision::Autocast autocast(settings);
        const torch::Tensor features = backbone->forward(lt::precision::input(images, settings)).to(torch::kFloat);
        const double relative = ((features - exact).abs().max() / exact.abs().max()).item<double>();
        MESSAGE("resnet18 --amp " << amp << " vs float32 on cuda: max relative difference " << relative);
        CHECK(relative < (std::string(amp) == "off" ? 1e-4 : 5e-2));
    }
    // One fp16 step: the scaled gradients, unscaled, equal the float32 ones.
    compute.amp = "fp16";
    const auto settings = lt::precision::configure(compute, at::Device(at::kCUDA, 0));
    lt::models::Model model("resnet20", 10);
    model.to(torch::kCUDA);
    lt::precision::prepare(model, settings);
    model.train();
    const torch::Tensor small = torch::randn({8, 3, 32, 32}, torch::kCUDA);
    const torch::Tensor labels = torch::randint(0, 10, {8}, torch::TensorOptions().dtype(torch::kLong).device(torch::kCUDA));
    torch::nn::functional::cross_entropy(model.forward(small), labels).backward();
    std::vector<torch::Tensor> reference;
    for (const auto& parameter : model.parameters()) reference.push_back(parameter.grad().clone());
    model.zero_grad();
    lt::precision::LossScaler scaler(true);
    torch::Tensor logits;
    {
        lt::precision::Autocast autocast(settings);
        logits = model.forward(lt::precision::input(small, settings));
    }
    CHECK((logits.scalar_type() == torch::kHalf));
    scaler.scale(torch::nn::functional::cross_entropy(logits.to(torch::kFloat), labels)).backward();
    REQUIRE(scaler.unscale(model.parameters()));
    std::size_t i = 0;
    for (const auto& parameter : model.parameters()) {
        const double scale = reference[i].abs().max().item<double>();
        CHECK((parameter.grad() - reference[i]).abs().max().item<double>() <= 0.05 * scale + 1e-4);
        ++i;
    }
}

int main(int argc, char** argv) {
    if (!at::hasCUDA()) {
        std::fprintf(stderr, "gpu_tests: no CUDA device: skipped\n");
        return 77;
    }
    // Full-precision products on both sides, so they can be compared.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
    lt::math_torch::provide();  // --device cuda in lt::eval::evaluate
    doctest::Context context(argc, argv);
    return context.run();
}
