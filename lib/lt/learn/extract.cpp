#include "lt/learn/extract.hpp"

#include "lt/base/error.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/data/loader.hpp"
#include "lt/image/images.hpp"
#include "lt/image/transforms.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/schema.hpp"
#include "lt/learn/distributed.hpp"
#include "lt/learn/memory.hpp"
#include "lt/learn/model_file.hpp"
#include "lt/learn/models.hpp"
#include "lt/learn/precision.hpp"
#include "lt/learn/weights.hpp"
#include "lt/learn/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <memory>
#include <numeric>

namespace lt::extract {

Shard parse_shard(const std::string& text) {
    const auto is_number = [](const std::string& part) {
        return !part.empty() && part.size() <= 9 &&
               std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    const auto slash = text.find('/');
    if (slash != std::string::npos) {
        const std::string index = text.substr(0, slash), count = text.substr(slash + 1);
        if (is_number(index) && is_number(count)) {
            Shard shard{std::stoll(index), std::stoll(count)};
            if (shard.index >= 1 && shard.index <= shard.count) return shard;
        }
    }
    throw UsageError(fmt::format("invalid shard '{}': expected I/N with 1 <= I <= N, e.g. 2/4", text));
}

std::pair<std::int64_t, std::int64_t> shard_rows(std::int64_t rows, const Shard& shard) {
    return {(shard.index - 1) * rows / shard.count, shard.index * rows / shard.count};
}

void Options::add_to(CLI::App& app) {
    auto* model_option = app.add_option("--model", model, "Model file written by lt-train (its /backbone)")
                             ->type_name("MODEL.h5");
    auto* arch_option = app.add_option("--arch", arch, "Architecture of the --init weights")
                            ->check(CLI::IsMember(models::arch_names()));
    auto* init_option = app.add_option("--init", init, "Backbone weights with torchvision names (with --arch)")
                            ->type_name("WEIGHTS.h5");
    arch_option->needs(init_option)->excludes(model_option);
    init_option->needs(arch_option)->excludes(model_option);
    auto* list_option = app.add_option("--list", list, "List of images (<path> <label> per line; '-' = stdin)")
                            ->type_name("LIST");
    auto* root_option = app.add_option("--root", root, "Folder the list's image paths are relative to")
                            ->type_name("DIR");
    output.add_to(app, "Features file ('-' = stdout)");
    auto* shard_option = app.add_option("--shard", shard, "Extract only the I-th of N contiguous parts of the list")
                             ->type_name("I/N")
                             ->check(CLI::Validator(
                                 [](std::string& text) -> std::string {
                                     try {
                                         parse_shard(text);
                                     } catch (const UsageError& error) {
                                         return error.what();
                                     }
                                     return {};
                                 },
                                 "", "SHARD"));
    app.add_option("--split", split, "The features' split attribute (default: the list's file name, e.g. test)");
    app.add_option("--preset", preset, "Eval transform: imagenet or small (default: the model's; imagenet)")
        ->check(CLI::IsMember({"imagenet", "small"}));
    app.add_option("--image-size", image_size, "Side of the network's input (0: the model's, or the preset's)")
        ->check(cli::ImageSide)
        ->capture_default_str();
    app.add_option("--batch-size", batch_size, "Images per forward pass")->check(cli::Positive)->capture_default_str();
    app.add_option("--merge", merge, "Join the shard files of one extraction into -o instead of extracting")
        ->type_name("SHARD.h5")
        ->expected(1, -1)
        ->excludes(model_option)
        ->excludes(arch_option)
        ->excludes(init_option)
        ->excludes(list_option)
        ->excludes(root_option)
        ->excludes(shard_option);
    dist_timeout.add_to(app);
}

namespace {

// What the features were computed from: the same in every shard of one
// extraction and in their merge.
struct Source {
    std::string list, list_hash, weights, weights_hash, arch, preset;
    std::int64_t list_rows = 0, image_size = 0;

    void write(h5::Group& group) const {
        group.set_attr("list", list);
        group.set_attr("list_hash", list_hash);
        group.set_attr("list_rows", list_rows);
        group.set_attr("weights", weights);
        group.set_attr("weights_hash", weights_hash);
        group.set_attr("arch", arch);
        group.set_attr("preset", preset);
        group.set_attr("image_size", image_size);
    }
    static Source read(const h5::Group& group) {
        Source source;
        source.list = group.attr_string("list");
        source.list_hash = group.attr_string("list_hash");
        source.list_rows = group.attr_int("list_rows");
        source.weights = group.attr_string("weights");
        source.weights_hash = group.attr_string("weights_hash");
        source.arch = group.attr_string("arch");
        source.preset = group.attr_string("preset");
        source.image_size = group.attr_int("image_size");
        return source;
    }
    bool same_extraction(const Source& other) const {
        return list_hash == other.list_hash && list_rows == other.list_rows && weights_hash == other.weights_hash &&
               preset == other.preset && image_size == other.image_size;
    }
};

// "data/fm/test.txt" -> "test"; "-" -> "".
std::string split_of(const std::string& list) {
    if (list == "-") return {};
    std::string name = list.substr(list.find_last_of('/') + 1);
    const auto dot = name.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

struct Extractor {
    std::shared_ptr<models::Backbone> backbone;
    std::string preset = "imagenet";
    int image_size = 0;
};

Extractor load_extractor(const Options& options) {
    Extractor extractor;
    if (!options.model.empty()) {
        model_file::TrainedBackbone trained = model_file::read_backbone(options.model);
        extractor.backbone = std::move(trained.backbone);
        if (!trained.preset.empty()) extractor.preset = trained.preset;
        extractor.image_size = trained.image_size;
    } else {
        extractor.backbone = models::make_backbone(options.arch);
        const models::LoadReport report = weights::load_init(*extractor.backbone, options.init);
        log::verbose("--init {}: {}", options.init, report.summary());
        if (!report.missing.empty())
            throw SchemaError(fmt::format("{} lacks {} of the {} weights of {} (e.g. {})", options.init,
                                          report.missing.size(), report.matched.size() + report.missing.size(),
                                          options.arch, report.missing.front()));
        if (!report.unexpected.empty())
            log::warn("--init {}: {} weights match nothing in {} (e.g. {})", options.init, report.unexpected.size(),
                      options.arch, report.unexpected.front());
    }
    if (!options.preset.empty()) extractor.preset = options.preset;
    if (options.image_size > 0) extractor.image_size = options.image_size;
    return extractor;
}

void check_usage(const Options& options) {
    if (options.list.empty()) throw UsageError("--list is required (or --merge)");
    if (options.root.empty()) throw UsageError("--root is required (or --merge)");
    if (options.model.empty() && options.arch.empty())
        throw UsageError("no backbone: give --model MODEL.h5, or --arch A with --init WEIGHTS.h5");
    cli::require_one_standard_input({{"--list", options.list}, {"--model", options.model}, {"--init", options.init}});
}

// The batches of a list (or shard) rows [first, end) that a process of a
// job of `processes` computes: every processes-th batch from its rank on, so
// that rank 0 can write the batches in order as they come, and every batch
// holds the images it holds in a single process.
struct BatchPlan {
    std::int64_t first = 0, end = 0, batch = 1;
    int processes = 1, rank = 0;

    std::int64_t batches() const { return (end - first + batch - 1) / batch; }
    std::int64_t rounds() const { return (batches() + processes - 1) / processes; }
    std::int64_t rows_of(std::int64_t b) const { return std::min(batch, end - first - b * batch); }
    std::vector<std::size_t> order() const {
        std::vector<std::size_t> rows;
        for (std::int64_t b = rank; b < batches(); b += processes)
            for (std::int64_t i = 0; i < rows_of(b); ++i) rows.push_back(static_cast<std::size_t>(first + b * batch + i));
        return rows;
    }
};

void extract_rows(const Options& options, const Compute& compute, dist::Group& group,
                  const precision::Settings& settings) {
    const at::Device& device = settings.device;
    const bool sharded = !options.shard.empty();
    const Shard shard = sharded ? parse_shard(options.shard) : Shard{};
    const ImageDataset dataset = open_image_dataset(options.list, options.root, Labels::optional);
    Extractor extractor = load_extractor(options);
    const ImageTransform transform = image_transform(extractor.preset, false, extractor.image_size);
    models::Backbone& backbone = *extractor.backbone;

    Source source;
    source.list = options.list;
    const std::string list_text = format_list(dataset.entries);
    source.list_hash = fmt::format("{:016x}", weights::fnv1a(list_text.data(), list_text.size()));
    source.list_rows = static_cast<std::int64_t>(dataset.size());
    source.weights = options.model.empty() ? options.init : options.model;
    source.weights_hash = weights::fingerprint(models::state_dict(backbone));
    source.arch = backbone.arch();
    source.preset = extractor.preset;
    source.image_size = transform.size;
    const auto [first, end] = shard_rows(source.list_rows, shard);
    if (first == end)
        throw Error(fmt::format("shard {}/{} of the {} images of {} is empty", shard.index, shard.count,
                                source.list_rows, options.list),
                    fmt::format("use at most {} shards", source.list_rows));
    const BatchPlan plan{first, end, options.batch_size, group.size(), group.rank()};
    // Rank 0 writes the ids of its own list beside the features of every rank's.
    if (!group.same_as_root(fmt::format("{} {} {} {} {} {} {} {}", source.list_hash, source.list_rows,
                                        source.weights_hash, source.preset, source.image_size, first, end,
                                        options.batch_size)))
        throw Error(fmt::format("rank {} of {} extracts another list, other weights or other options than rank 0",
                                group.rank(), group.size()),
                    "give every process the same command line, list file and model");

    backbone.to(device);
    precision::prepare(backbone, settings);
    backbone.eval();
    torch::NoGradGuard no_grad;

    std::unique_ptr<h5::OutputFile> out;
    std::unique_ptr<FeaturesWriter> writer;
    if (group.is_root()) {
        refuse_outputs_among_images(dataset, {options.output.path}, static_cast<std::size_t>(first),
                                    static_cast<std::size_t>(end));
        out = std::make_unique<h5::OutputFile>(options.output.path, "features");
        source.write(*out);
        if (sharded) {
            out->set_attr("shard_index", shard.index);
            out->set_attr("shard_count", shard.count);
            out->set_attr("shard_first_row", first);
        }
        writer = std::make_unique<FeaturesWriter>(*out, backbone.feature_dim(), /*with_ids=*/true,
                                                  options.split.empty() ? split_of(options.list) : options.split);
    }
    std::vector<std::string> ids;
    const auto append = [&](const float* features, std::int64_t row, std::int64_t n) {
        // The weights are finite (weights::read_state_dict), so a NaN or Inf
        // here is an overflow of the network on this image.
        const auto values = static_cast<std::size_t>(n * backbone.feature_dim());
        const float* bad = std::find_if(features, features + values, [](float v) { return !std::isfinite(v); });
        if (bad != features + values) {
            const auto at = static_cast<std::size_t>(row + (bad - features) / backbone.feature_dim());
            throw Error(fmt::format("the features of image '{}' ({} line {}) are not finite ({})",
                                    dataset.image_path(at), dataset.list_name, dataset.entries[at].line, *bad),
                        settings.autocast && settings.lower == at::kHalf
                            ? "float16 overflows more easily than float32: try --amp bf16, or no --amp"
                            : "the network overflowed on it: check the image and the weights");
        }
        ids.clear();
        std::vector<std::int64_t> labels;
        for (std::int64_t i = row; i < row + n; ++i) {
            ids.push_back(dataset.entries[static_cast<std::size_t>(i)].path);
            labels.push_back(dataset.entries[static_cast<std::size_t>(i)].label);
        }
        writer->append(features, labels.data(), n, ids);
    };

    LoaderOptions loader_options;
    loader_options.batch_size = options.batch_size;
    loader_options.workers = compute.workers;
    loader_options.host_memory = precision::host_memory(device);
    BatchLoader loader(dataset, transform, loader_options);
    loader.start_epoch(plan.order(), 0);

    const auto started = std::chrono::steady_clock::now();
    Progress progress("features", end - first, "images");
    group.set_activity("during the extraction");
    const std::int64_t dim = backbone.feature_dim();
    Batch batch;
    for (std::int64_t round = 0; round < plan.rounds(); ++round) {
        const std::int64_t mine = round * plan.processes + plan.rank;
        at::Tensor features;
        if (mine < plan.batches()) {
            if (!loader.next(batch)) throw Error("the loader ran out of batches");
            const at::Tensor images = precision::input(precision::batch_images(batch, device), settings);
            precision::Autocast autocast(settings);
            // Under --amp too, the features are written as float32.
            features = backbone.forward(images).to(at::kFloat).contiguous();
        }
        if (!group.distributed()) {
            features = features.to(at::kCPU).contiguous();
            append(features.data_ptr<float>(), first + mine * plan.batch, features.size(0));
            progress.advance(features.size(0));
            continue;
        }
        // Every rank sends a full batch's worth (gather needs one shape);
        // rank 0 keeps the rows of each batch in batch order.
        at::Tensor padded = torch::zeros({plan.batch, dim}, torch::TensorOptions(at::kFloat).device(device));
        if (features.defined()) padded.narrow(0, 0, features.size(0)).copy_(features);
        std::vector<at::Tensor> gathered;
        group.gather(padded, gathered);
        if (!group.is_root()) continue;
        for (int q = 0; q < plan.processes; ++q) {
            const std::int64_t b = round * plan.processes + q;
            if (b >= plan.batches()) break;
            const at::Tensor rows = gathered[static_cast<std::size_t>(q)].narrow(0, 0, plan.rows_of(b)).to(at::kCPU).contiguous();
            append(rows.data_ptr<float>(), first + b * plan.batch, rows.size(0));
            progress.advance(rows.size(0));
        }
    }
    progress.finish();
    if (!group.is_root()) return;
    out->commit();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("{} images x {} features in {:.1f} s ({:.0f} images/s){}{}", end - first, backbone.feature_dim(),
              seconds, static_cast<double>(end - first) / std::max(seconds, 1e-9),
              sharded ? fmt::format(", shard {}/{} (rows {} to {} of {})", shard.index, shard.count, first, end - 1,
                                    source.list_rows)
                      : "",
              group.distributed() ? fmt::format(", by {} processes", group.size()) : "");
}

void extract(const Options& options, const Compute& compute) {
    const dist::Launch launch = dist::read_launch();
    log::set_rank(launch.rank);
    dist::check_usage_once(launch, [&] { check_usage(options); });
    memory::reuse_tensor_memory();
    use_threads(compute.threads);
    const at::Device device = dist::device_of_rank(resolve_device(compute.device), launch);
    const precision::Settings settings = precision::configure(compute, device);
    dist::Group group(launch, "lt-extract", options.dist_timeout.value(), device);
    group.set_failure_hint("nothing was written; run the command again");
    group.run([&] { extract_rows(options, compute, group, settings); });
}

}  // namespace

void merge_shards(const std::vector<std::string>& shard_files, const std::string& output) {
    struct Part {
        std::unique_ptr<FeaturesReader> features;
        Source source;
        std::string split;
        Shard shard;
        std::int64_t first_row = 0;
    };
    std::vector<Part> parts;
    for (const std::string& path : shard_files) {
        Part part;
        part.features = std::make_unique<FeaturesReader>(path);
        const h5::InputFile& in = part.features->file();
        if (!in.has_attr("shard_index") || !in.has_attr("list_hash"))
            throw Error(fmt::format("{} is not a shard of lt-extract", path), "shards are written with --shard I/N");
        part.source = Source::read(in);
        part.split = in.has_attr("split") ? in.attr_string("split") : "";
        part.shard = {in.attr_int("shard_index"), in.attr_int("shard_count")};
        part.first_row = in.attr_int("shard_first_row");
        // What --shard accepts, of a list that every shard has rows of.
        if (part.shard.count < 1 || part.shard.index < 1 || part.shard.index > part.shard.count ||
            part.source.list_rows < part.shard.count)
            throw SchemaError(fmt::format("{}: shard {}/{} of a list of {} rows is not one lt-extract writes", path,
                                          part.shard.index, part.shard.count, part.source.list_rows));
        parts.push_back(std::move(part));
    }
    std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.shard.index < b.shard.index; });
    const Part& reference = parts.front();
    for (const Part& part : parts) {
        const std::string& name = part.features->file().file_name();
        if (!part.source.same_extraction(reference.source) || part.shard.count != reference.shard.count ||
            part.features->dim() != reference.features->dim() || part.split != reference.split)
            throw Error(fmt::format("{} and {} are shards of different extractions (list, weights or transform)",
                                    reference.features->file().file_name(), name));
    }
    const std::int64_t count = reference.shard.count;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const Part& part = parts[i];
        if (i > 0 && part.shard.index == parts[i - 1].shard.index)
            throw Error(fmt::format("shard {}/{} is given twice", part.shard.index, count));
        const auto [first, end] = shard_rows(part.source.list_rows, part.shard);
        if (part.first_row != first || part.features->rows() != end - first)
            throw SchemaError(fmt::format("{}: shard {}/{} should hold rows {} to {}",
                                          part.features->file().file_name(), part.shard.index, count, first, end - 1));
    }
    if (static_cast<std::int64_t>(parts.size()) != count) {
        std::vector<std::int64_t> missing;
        std::size_t next = 0;
        for (std::int64_t index = 1; index <= count; ++index) {
            if (next < parts.size() && parts[next].shard.index == index)
                ++next;
            else
                missing.push_back(index);
        }
        throw Error(fmt::format("shard{} {} of {} {} missing", missing.size() == 1 ? "" : "s",
                                fmt::join(missing, ", "), count, missing.size() == 1 ? "is" : "are"));
    }

    h5::OutputFile out(output, "features");
    reference.source.write(out);
    const bool with_ids = std::all_of(parts.begin(), parts.end(),
                                      [](const Part& part) { return part.features->file().has_dataset("ids"); });
    FeaturesWriter writer(out, reference.features->dim(), with_ids, reference.split);
    for (const Part& part : parts) {
        const FeaturesReader& features = *part.features;
        const std::vector<std::string> ids =
            with_ids ? features.file().read_strings("ids") : std::vector<std::string>{};
        const std::int64_t chunk = features.chunk_rows();
        std::vector<float> rows(static_cast<std::size_t>(chunk * features.dim()));
        for (std::int64_t first = 0; first < features.rows(); first += chunk) {
            const std::int64_t n = std::min(chunk, features.rows() - first);
            features.read(first, n, rows.data());
            writer.append(rows.data(), features.labels().data() + first, n,
                          with_ids ? std::vector<std::string>(ids.begin() + first, ids.begin() + first + n)
                                   : std::vector<std::string>{});
        }
    }
    out.commit();
    log::info("merged {} shards: {} rows", count, reference.source.list_rows);
}

void run(const Options& options, const Compute& compute) {
    if (options.merge.empty())
        extract(options, compute);
    else if (dist::read_launch().rank == 0)  // under a launcher, one process joins the shards
        merge_shards(options.merge, options.output.path);
}

}  // namespace lt::extract
