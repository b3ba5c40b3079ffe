// lt::models: architectures against torchvision's numbers, the heads against
// hand-computed logits, and state-dict loading. Feature equality with
// torchvision itself is checked by tests/torchvision/check_features.py.
#include "lt/base/error.hpp"
#include "lt/io/h5.hpp"
#include "lt/learn/models.hpp"

#include <doctest/doctest.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace lt::models;
using Shape = std::vector<std::int64_t>;

namespace {

std::int64_t parameter_count(const torch::nn::Module& module) {
    std::int64_t total = 0;
    for (const auto& p : module.parameters()) total += p.numel();
    return total;
}

bool has_key(const StateDict& entries, const std::string& key) {
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
}

const torch::Tensor& tensor_of(const StateDict& entries, const std::string& key) {
    for (const auto& [name, tensor] : entries)
        if (name == key) return tensor;
    FAIL("no key " << key);
    throw std::logic_error("unreachable");
}

// A float dataset of an h5py-written file as a tensor of its shape.
torch::Tensor read_float_tensor(const lt::h5::Group& group, const std::string& name) {
    lt::h5::Shape shape;
    auto values = group.read_floats(name, &shape);
    return torch::from_blob(values.data(), shape, torch::kFloat32).clone();
}

// A state dict exported with `f[k] = v.numpy()`: one dataset per key at the root.
StateDict read_torchvision_weights(const lt::h5::Group& root) {
    StateDict entries;
    for (const auto& key : root.children()) {
        if (key.size() >= 19 && key.compare(key.size() - 19, 19, "num_batches_tracked") == 0) {
            lt::h5::Shape shape;
            auto values = root.read_ints(key, &shape);
            entries.emplace_back(key, torch::from_blob(values.data(), shape, torch::kInt64).clone());
        } else {
            entries.emplace_back(key, read_float_tensor(root, key));
        }
    }
    return entries;
}

StateDict cloned(const StateDict& entries) {
    StateDict copy;
    for (const auto& [name, tensor] : entries) copy.emplace_back(name, tensor.clone());
    return copy;
}

}  // namespace

TEST_CASE("models: architecture names and feature dimensions") {
    const std::vector<std::string> expected = {"resnet10", "resnet18",  "resnet34",        "resnet50",
                                               "resnet101", "resnet152", "resnext50_32x4d", "resnet20",
                                               "resnet32",  "resnet56"};
    CHECK(arch_names() == expected);
    CHECK(feature_dim("resnet10") == 512);
    CHECK(feature_dim("resnet34") == 512);
    CHECK(feature_dim("resnet101") == 2048);
    CHECK(feature_dim("resnext50_32x4d") == 2048);
    CHECK(feature_dim("resnet56") == 64);
}

TEST_CASE("models: an unknown architecture is a usage error listing the valid names") {
    CHECK_THROWS_AS(make_backbone("resnet19"), lt::UsageError);
    CHECK_THROWS_AS(feature_dim("vgg16"), lt::UsageError);
    try {
        make_backbone("resnet19");
    } catch (const lt::UsageError& e) {
        const std::string message = e.what();
        CHECK(message.find("'resnet19'") != std::string::npos);
        CHECK(message.find("resnet18, resnet34") != std::string::npos);
        CHECK(message.find("resnet56") != std::string::npos);
    }
}

TEST_CASE("models: parameter and state-dict sizes equal torchvision's") {
    // From torchvision 0.14 with the `fc` head removed (resnet18 has
    // 11,689,512 parameters with its 1000-class fc: 11,176,512 + 513,000).
    // resnet10 = torchvision ResNet(BasicBlock, [1, 1, 1, 1]).
    struct Expected {
        std::string arch;
        std::int64_t parameters, buffer_values;
        std::size_t keys;
    };
    const std::vector<Expected> table = {
        {"resnet10", 4905792, 5772, 72},         {"resnet18", 11176512, 9620, 120},
        {"resnet34", 21284672, 17060, 216},      {"resnet50", 23508032, 53173, 318},
        {"resnet101", 42500160, 105448, 624},    {"resnet152", 58143808, 151579, 930},
        {"resnext50_32x4d", 22979904, 68277, 318},
    };
    for (const auto& row : table) {
        CAPTURE(row.arch);
        const auto backbone = make_backbone(row.arch);
        CHECK(backbone->arch() == row.arch);
        CHECK(parameter_count(*backbone) == row.parameters);
        std::int64_t buffer_values = 0;
        for (const auto& b : backbone->buffers()) buffer_values += b.numel();
        CHECK(buffer_values == row.buffer_values);
        CHECK(state_dict(*backbone).size() == row.keys);
    }
}

TEST_CASE("models: CIFAR-style ResNets with projection shortcuts") {
    // resnet20 by hand: stem 3*16*9 + BN 32 = 464; stage 1: 3 blocks of
    // 2*(16*16*9 + 32) = 14,016; stage 2: 2*(32*32*9 + 64)*3 - 32*32*9
    // + 16*32*9 + 1x1 projection 16*32 + 64 = 51,648; stage 3 likewise with
    // 64 planes = 205,696. Total 271,824 (269,722 - 650 fc for option A, + 2,752
    // for the two projections). resnet32 and resnet56 counted with torchvision's
    // BasicBlock assembled the same way.
    CHECK(parameter_count(*make_backbone("resnet20")) == 271824);
    CHECK(parameter_count(*make_backbone("resnet32")) == 466256);
    CHECK(parameter_count(*make_backbone("resnet56")) == 855120);

    const auto entries = state_dict(*make_backbone("resnet20"));
    CHECK(entries.size() == 126);
    CHECK(!has_key(entries, "layer1.0.downsample.0.weight"));  // 16 -> 16, stride 1
    CHECK(tensor_of(entries, "layer2.0.downsample.0.weight").sizes().vec() == Shape{32, 16, 1, 1});
    CHECK(tensor_of(entries, "layer3.0.downsample.1.running_var").sizes().vec() == Shape{64});
    CHECK(!has_key(entries, "layer4.0.conv1.weight"));
    CHECK(tensor_of(entries, "conv1.weight").sizes().vec() == Shape{16, 3, 3, 3});
}

TEST_CASE("models: torchvision key names and order") {
    const auto resnet18 = state_dict(*make_backbone("resnet18"));
    const std::vector<std::string> first = {"conv1.weight",       "bn1.weight",        "bn1.bias",
                                            "bn1.running_mean",   "bn1.running_var",   "bn1.num_batches_tracked",
                                            "layer1.0.conv1.weight", "layer1.0.bn1.weight"};
    for (std::size_t i = 0; i < first.size(); ++i) CHECK(resnet18[i].first == first[i]);
    CHECK(resnet18.back().first == "layer4.1.bn2.num_batches_tracked");
    CHECK(tensor_of(resnet18, "layer2.0.downsample.0.weight").sizes().vec() == Shape{128, 64, 1, 1});
    CHECK(tensor_of(resnet18, "layer2.0.downsample.1.running_mean").sizes().vec() == Shape{128});
    CHECK((tensor_of(resnet18, "bn1.num_batches_tracked").scalar_type() == torch::kLong));
    CHECK(!has_key(resnet18, "layer1.0.downsample.0.weight"));

    const auto resnet50 = state_dict(*make_backbone("resnet50"));
    CHECK(tensor_of(resnet50, "layer1.0.downsample.0.weight").sizes().vec() == Shape{256, 64, 1, 1});
    // v1.5: the stride is on the 3x3 conv; the 1x1 convs are stride 1.
    CHECK(tensor_of(resnet50, "layer2.0.conv2.weight").sizes().vec() == Shape{128, 128, 3, 3});
    CHECK(resnet50.back().first == "layer4.2.bn3.num_batches_tracked");

    // ResNeXt 32x4d: grouped 3x3 convs of width 4 * 32 = 128 in layer1.
    const auto resnext = state_dict(*make_backbone("resnext50_32x4d"));
    CHECK(tensor_of(resnext, "layer1.0.conv2.weight").sizes().vec() == Shape{128, 4, 3, 3});
    CHECK(tensor_of(resnext, "layer4.0.conv3.weight").sizes().vec() == Shape{2048, 1024, 1, 1});
}

TEST_CASE("models: torchvision's initialisation") {
    torch::manual_seed(1);
    const auto entries = state_dict(*make_backbone("resnet18"));
    // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (out_channels * 3 * 3)).
    const auto& w = tensor_of(entries, "layer4.0.conv2.weight");  // 2.4M samples
    CHECK(w.mean().item<double>() == doctest::Approx(0.0).scale(1).epsilon(1e-4));
    CHECK(w.std().item<double>() == doctest::Approx(std::sqrt(2.0 / (512 * 9))).epsilon(0.01));
    CHECK(torch::equal(tensor_of(entries, "layer3.1.bn2.weight"), torch::ones({256})));
    CHECK(torch::equal(tensor_of(entries, "layer3.1.bn2.bias"), torch::zeros({256})));
    CHECK(torch::equal(tensor_of(entries, "layer3.1.bn2.running_var"), torch::ones({256})));
}

TEST_CASE("models: pooled feature shapes") {
    torch::NoGradGuard no_grad;
    torch::manual_seed(2);
    struct Case {
        std::string arch;
        std::int64_t size, dim;
    };
    for (const auto& c : std::vector<Case>{{"resnet10", 64, 512}, {"resnet18", 64, 512}, {"resnet50", 64, 2048},
                                           {"resnext50_32x4d", 32, 2048}, {"resnet20", 32, 64},
                                           {"resnet32", 28, 64}}) {
        CAPTURE(c.arch);
        const auto backbone = make_backbone(c.arch);
        backbone->eval();
        const auto features = backbone->forward(torch::randn({2, 3, c.size, c.size}));
        CHECK(features.sizes().vec() == Shape{2, c.dim});
        CHECK(backbone->feature_dim() == c.dim);
        CHECK(features.min().item<float>() >= 0.0f);  // average of ReLU outputs
    }
}

TEST_CASE("models: cosine classifier on hand-computed cosines") {
    CosineClassifier head(3, 2);
    CHECK(head.scale() == 16.0);
    CHECK(head.scale_parameter().dim() == 0);
    {
        torch::NoGradGuard no_grad;
        // Unit rows: (1, 0), (0, 1), (1, 1)/sqrt(2); the norms must not matter.
        head.weight().copy_(torch::tensor({1.0f, 0.0f, 0.0f, 2.0f, 3.0f, 3.0f}).view({3, 2}));
    }
    // x1 = (3, 4) -> (0.6, 0.8); x2 = (-2, 0) -> (-1, 0).
    const auto logits = head.forward(torch::tensor({3.0f, 4.0f, -2.0f, 0.0f}).view({2, 2}));
    const double r = 1.0 / std::sqrt(2.0);
    const double expected[2][3] = {{0.6, 0.8, 1.4 * r}, {-1.0, 0.0, -r}};
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) CHECK(logits[i][j].item<double>() == doctest::Approx(16.0 * expected[i][j]));

    // The scale is learned: d(sum of logits)/ds = sum of cosines.
    logits.sum().backward();
    CHECK(head.scale_parameter().grad().item<double>() == doctest::Approx(0.6 + 0.8 + 1.4 * r - 1.0 - r));
    CHECK(head.kind() == ClassifierKind::cosine);
    CHECK(state_dict(head).size() == 2);
    CHECK(state_dict(head)[1].first == "scale");
}

TEST_CASE("models: a cosine classifier's scale is held at kMinScale, never below") {
    CosineClassifier head(3, 2);
    CHECK_FALSE(head.hold_scale_positive());  // 16: left alone
    CHECK(head.scale() == 16.0);
    for (const double below : {0.005, 0.0, -3.9}) {
        {
            torch::NoGradGuard no_grad;
            head.scale_parameter().fill_(below);
        }
        CHECK(head.hold_scale_positive());
        CHECK(head.scale() == doctest::Approx(CosineClassifier::kMinScale));
        CHECK_FALSE(head.hold_scale_positive());
    }
    CHECK(head.scale_parameter().requires_grad());  // still learned
}

TEST_CASE("models: linear classifier") {
    LinearClassifier head(2, 2);
    {
        torch::NoGradGuard no_grad;
        head.weight().copy_(torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2}));
        head.bias().copy_(torch::tensor({0.5f, -1.0f}));
    }
    const auto logits = head.forward(torch::tensor({1.0f, 1.0f}).view({1, 2}));
    CHECK(logits[0][0].item<double>() == doctest::Approx(3.5));
    CHECK(logits[0][1].item<double>() == doctest::Approx(6.0));
    CHECK(state_dict(head)[0].first == "weight");
    CHECK(state_dict(head)[1].first == "bias");
    // nn.Linear's range, U(-1/sqrt(D), 1/sqrt(D)).
    LinearClassifier fresh(100, 64);
    CHECK(fresh.weight().abs().max().item<double>() <= 0.125);
    CHECK(fresh.bias().abs().max().item<double>() <= 0.125);
}

TEST_CASE("models: classifier kinds") {
    CHECK(parse_classifier_kind("cosine") == ClassifierKind::cosine);
    CHECK(parse_classifier_kind("linear") == ClassifierKind::linear);
    CHECK_THROWS_AS(parse_classifier_kind("Cosine"), lt::UsageError);
    CHECK(to_string(ClassifierKind::linear) == "linear");
    CHECK_THROWS_AS(make_classifier(ClassifierKind::cosine, 0, 64), lt::Error);
}

TEST_CASE("models: full model") {
    torch::manual_seed(3);
    auto model = std::make_shared<Model>("resnet20", 10);
    model->eval();
    torch::NoGradGuard no_grad;
    const auto images = torch::randn({3, 3, 32, 32});
    const auto logits = model->forward(images);
    CHECK(logits.sizes().vec() == Shape{3, 10});
    const auto features = model->features(images);
    CHECK(torch::allclose(logits, model->classifier()->forward(features)));
    CHECK(logits.abs().max().item<double>() <= 16.0 + 1e-4);  // |cosine| <= 1

    const auto keys = state_dict(*model);
    CHECK(keys.front().first == "backbone.conv1.weight");
    CHECK(keys.back().first == "classifier.scale");
    CHECK(parameter_count(*model) == 271824 + 10 * 64 + 1);

    CHECK(std::make_shared<Model>("resnet20", 5, ClassifierKind::linear)->classifier()->kind() ==
          ClassifierKind::linear);
    CHECK_THROWS_AS(Model(make_backbone("resnet20"), make_classifier(ClassifierKind::cosine, 5, 512)),
                    lt::Error);
}

TEST_CASE("models: training step reaches every parameter") {
    // The in-place ReLUs and residual additions must leave autograd intact.
    torch::manual_seed(7);
    Model model("resnet20", 4);
    model.train();
    const auto loss = torch::nll_loss(torch::log_softmax(model.forward(torch::randn({2, 3, 32, 32})), 1),
                                      torch::tensor({std::int64_t{1}, std::int64_t{3}}));
    loss.backward();
    for (const auto& p : model.named_parameters()) {
        CAPTURE(p.key());
        REQUIRE(p.value().grad().defined());
        CHECK(p.value().grad().abs().sum().item<double>() > 0.0);
    }
    CHECK(tensor_of(state_dict(model), "backbone.bn1.num_batches_tracked").item<std::int64_t>() == 1);
}

TEST_CASE("models: state-dict round trip") {
    torch::manual_seed(4);
    const auto source = make_backbone("resnet20");
    {
        // Non-trivial BatchNorm statistics, so buffers matter.
        source->train();
        torch::NoGradGuard no_grad;
        source->forward(torch::randn({4, 3, 32, 32}) * 2 + 1);
    }
    source->eval();
    torch::manual_seed(5);
    const auto target = make_backbone("resnet20");
    target->eval();
    torch::NoGradGuard no_grad;
    const auto images = torch::randn({2, 3, 32, 32});
    REQUIRE(!torch::allclose(source->forward(images), target->forward(images)));

    auto weights = cloned(state_dict(*source));
    weights.emplace_back("fc.weight", torch::zeros({10, 64}));  // torchvision's head
    weights.emplace_back("fc.bias", torch::zeros({10}));
    weights.emplace_back("projector.weight", torch::zeros({4}));
    const auto report = load_state_dict(*target, weights);
    CHECK(report.matched.size() == 126);
    CHECK(report.missing.empty());
    CHECK(report.ignored == std::vector<std::string>{"fc.weight", "fc.bias"});
    CHECK(report.unexpected == std::vector<std::string>{"projector.weight"});
    CHECK(report.summary().rfind("loaded 126 of 126 tensors; 0 missing; 1 unexpected; 2 ignored", 0) == 0);
    CHECK(torch::equal(source->forward(images), target->forward(images)));
    CHECK(tensor_of(state_dict(*target), "bn1.num_batches_tracked").item<std::int64_t>() == 1);
}

TEST_CASE("models: loading partial, prefixed and mis-shaped weights") {
    torch::manual_seed(6);
    const auto target = make_backbone("resnet20");
    const auto before = cloned(state_dict(*target));

    SUBCASE("a missing key is reported and left as it was") {
        StateDict weights;
        for (const auto& [key, tensor] : before)
            if (key != "layer3.2.bn2.bias") weights.emplace_back("module." + key, torch::ones_like(tensor));
        const auto report = load_state_dict(*target, weights);
        CHECK(report.matched.size() == 125);
        CHECK(report.missing == std::vector<std::string>{"layer3.2.bn2.bias"});
        CHECK(report.summary().find("missing: layer3.2.bn2.bias") != std::string::npos);
        const auto after = state_dict(*target);
        CHECK(torch::equal(tensor_of(after, "layer3.2.bn2.bias"), tensor_of(before, "layer3.2.bn2.bias")));
        CHECK(torch::equal(tensor_of(after, "conv1.weight"), torch::ones({16, 3, 3, 3})));
    }
    SUBCASE("a shape mismatch names the key and changes nothing") {
        StateDict weights = cloned(before);
        for (auto& [key, tensor] : weights) tensor = torch::zeros_like(tensor);
        for (auto& [key, tensor] : weights)
            if (key == "layer2.0.conv1.weight") tensor = torch::zeros({32, 16, 1, 1});
        try {
            load_state_dict(*target, weights);
            FAIL("expected a SchemaError");
        } catch (const lt::SchemaError& e) {
            const std::string message = e.what();
            CHECK(message.find("'layer2.0.conv1.weight'") != std::string::npos);
            CHECK(message.find("[32, 16, 3, 3]") != std::string::npos);
            CHECK(message.find("[32, 16, 1, 1]") != std::string::npos);
        }
        CHECK(torch::equal(tensor_of(state_dict(*target), "conv1.weight"), tensor_of(before, "conv1.weight")));
    }
    SUBCASE("float64 weights are converted; a one-element tensor may be 0-d or [1]") {
        CosineClassifier head(2, 3);
        const auto report = load_state_dict(head, {{"weight", torch::ones({2, 3}, torch::kFloat64)},
                                                   {"scale", torch::full({1}, 30.0, torch::kFloat64)}});
        CHECK(report.matched.size() == 2);
        CHECK(head.scale() == 30.0);
        CHECK((head.weight().scalar_type() == torch::kFloat32));
        CHECK(torch::equal(head.weight(), torch::ones({2, 3})));
    }
}

// Skipped in the normal run: tests/torchvision/check_features.py writes the
// torchvision weights and reference features, then runs this case alone.
TEST_CASE("models: features equal torchvision's" * doctest::skip()) {
    const char* weights_path = std::getenv("LT_TORCHVISION_WEIGHTS");
    const char* reference_path = std::getenv("LT_TORCHVISION_REFERENCE");
    REQUIRE_MESSAGE((weights_path && reference_path), "run tests/torchvision/check_features.py");
    const lt::h5::InputFile reference(reference_path);
    const std::string arch = reference.attr_string("arch");

    const auto backbone = make_backbone(arch);
    const auto report = load_state_dict(*backbone, read_torchvision_weights(lt::h5::InputFile(weights_path)));
    CHECK(report.missing.empty());
    CHECK(report.unexpected.empty());
    CHECK(report.ignored.size() == 2);  // fc.weight, fc.bias
    std::vector<std::string> keys;
    for (const auto& entry : state_dict(*backbone)) keys.push_back(entry.first);
    CHECK(keys == reference.read_strings("keys"));  // same order as Python's state_dict()

    backbone->eval();
    torch::NoGradGuard no_grad;
    const auto features = backbone->forward(read_float_tensor(reference, "images"));
    const auto expected = read_float_tensor(reference, "features");
    REQUIRE(features.sizes().vec() == expected.sizes().vec());
    const double difference = (features - expected).abs().max().item<double>();
    std::printf("%s: max abs difference %.3g over %lld x %lld features\n", arch.c_str(), difference,
                static_cast<long long>(features.size(0)), static_cast<long long>(features.size(1)));
    CHECK(difference <= 1e-4);
}
