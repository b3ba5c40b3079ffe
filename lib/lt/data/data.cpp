#include "lt/data/data.hpp"

#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/base/log.hpp"
#include "lt/base/progress.hpp"
#include "lt/base/random.hpp"
#include "lt/base/table_text.hpp"
#include "lt/image/images.hpp"
#include "lt/io/idx.hpp"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

namespace lt::data {

namespace fs = std::filesystem;

namespace {

// Domain separation of the seeded streams (see make_rng).
constexpr std::uint64_t kProfileStream = 0x50524F46494C4531ull;  // "PROFILE1"

constexpr std::size_t kFashionClasses = 10;
const char* const kFashionClassNames[kFashionClasses] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// The labels with at least one image, ascending.
std::vector<std::size_t> present_labels(const std::vector<std::int64_t>& class_counts) {
    std::vector<std::size_t> labels;
    for (std::size_t label = 0; label < class_counts.size(); ++label)
        if (class_counts[label] > 0) labels.push_back(label);
    return labels;
}

void create_folder(const fs::path& folder) {
    std::error_code error;
    fs::create_directories(folder, error);
    if (error) throw Error(fmt::format("cannot create folder '{}': {}", folder.string(), error.message()));
}

// ---- fashion-mnist -------------------------------------------------------

struct IdxSplit {
    IdxArray images, labels;
    std::size_t count = 0, height = 0, width = 0;
};

// Debian ships the files gzip-compressed; an unpacked copy is accepted too.
std::string idx_file(const std::string& source, const std::string& name) {
    fs::path compressed = fs::path(source) / (name + ".gz");
    if (fs::exists(compressed)) return compressed.string();
    fs::path plain = fs::path(source) / name;
    if (fs::exists(plain)) return plain.string();
    throw Error(fmt::format("cannot find '{}' (or '{}' without .gz)", compressed.string(), plain.string()),
                "install Debian's dataset-fashion-mnist, or point --source at the IDX files");
}

IdxSplit read_fashion_split(const std::string& source, const std::string& prefix) {
    IdxSplit split;
    std::string images_path = idx_file(source, prefix + "-images-idx3-ubyte");
    std::string labels_path = idx_file(source, prefix + "-labels-idx1-ubyte");
    split.images = read_idx(images_path);
    split.labels = read_idx(labels_path);
    if (split.images.shape.size() != 3 || split.images.shape[1] == 0 || split.images.shape[2] == 0)
        throw Error(fmt::format("'{}' holds an array of shape {}, not N x height x width images", images_path,
                                fmt::join(split.images.shape, "x")));
    if (split.labels.shape.size() != 1 || split.labels.shape[0] != split.images.shape[0])
        throw Error(fmt::format("'{}' holds {} labels for {} images", labels_path,
                                fmt::join(split.labels.shape, "x"), split.images.shape[0]));
    for (std::size_t i = 0; i < split.labels.data.size(); ++i)
        if (split.labels.data[i] >= kFashionClasses)
            throw Error(fmt::format("'{}': label {} of image {} is not a Fashion-MNIST class (0-9)", labels_path,
                                    split.labels.data[i], i));
    split.count = split.images.shape[0];
    split.height = split.images.shape[1];
    split.width = split.images.shape[2];
    return split;
}

std::vector<ListEntry> fashion_entries(const IdxSplit& split, const std::string& folder) {
    std::vector<ListEntry> entries(split.count);
    for (std::size_t i = 0; i < split.count; ++i) {
        entries[i].label = split.labels.data[i];
        entries[i].path = fmt::format("{}/{}/{:05}.png", folder, entries[i].label, i);
    }
    return entries;
}

// Grey PNGs (decoding makes them RGB), written atomically one by one.
void write_fashion_pngs(const IdxSplit& split, const std::vector<ListEntry>& entries,
                        const std::vector<std::size_t>& which, const fs::path& root) {
    const std::size_t pixels = split.height * split.width;
    std::vector<uchar> png;
    for (std::size_t index : which) {
        cv::Mat image(static_cast<int>(split.height), static_cast<int>(split.width), CV_8UC1,
                      const_cast<std::uint8_t*>(split.images.data.data() + index * pixels));
        if (!cv::imencode(".png", image, png)) throw Error("cannot encode a PNG image");
        write_file_atomically((root / entries[index].path).string(),
                              std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    }
}

std::vector<ListEntry> pick(const std::vector<ListEntry>& entries, const std::vector<std::size_t>& which) {
    std::vector<ListEntry> picked;
    picked.reserve(which.size());
    for (std::size_t index : which) picked.push_back(entries[index]);
    return picked;
}

// ---- folder --------------------------------------------------------------

bool is_image_file(const fs::path& path) {
    // torchvision's IMG_EXTENSIONS, compared case-insensitively.
    static const char* const extensions[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    std::string extension = path.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::find(std::begin(extensions), std::end(extensions), extension) != std::end(extensions);
}

bool is_hidden(const fs::path& path) {
    const std::string name = path.filename().string();
    return !name.empty() && name.front() == '.';
}

// "a, b, c, ... (12 in all)": the first `shown` of many names.
std::string shortened(const std::vector<std::string>& names, std::size_t shown) {
    std::string text;
    for (std::size_t i = 0; i < std::min(shown, names.size()); ++i) text += (i ? ", " : "") + names[i];
    if (names.size() > shown) text += fmt::format(", ... ({} in all)", names.size());
    return text;
}

// A name a list file or classes.txt can hold: the line parser trims ends
// and splits lines.
void check_listable(const std::string& name, const std::string& what) {
    bool bad_ends = !name.empty() && (std::isspace(static_cast<unsigned char>(name.front())) ||
                                      std::isspace(static_cast<unsigned char>(name.back())));
    if (name.empty() || bad_ends || name.find_first_of("\r\n") != std::string::npos)
        throw Error(fmt::format("{} '{}' cannot be written in a list file (a line break, or spaces at its ends)",
                                what, name));
}

// One warning for the lines of a list that name an image again.
void warn_repeated_images(const std::vector<ListEntry>& entries, const std::string& list_name, const char* risk) {
    const auto repeats = repeated_images(entries);
    if (repeats.empty()) return;
    std::vector<std::string> pairs;
    for (const auto& [line, first] : repeats) pairs.push_back(fmt::format("line {} repeats line {}", line, first));
    const bool one = repeats.size() == 1;
    log::warn("{} {} of {} {} an image listed before ({}): {}", repeats.size(), one ? "line" : "lines", list_name,
              one ? "names" : "name", shortened(pairs, 3), risk);
}

}  // namespace

std::vector<std::int64_t> exponential_profile(std::int64_t n_max, double ratio, std::size_t classes) {
    if (n_max < 1) throw UsageError(fmt::format("--n-max {} must be at least 1", n_max));
    if (!(ratio > 0 && ratio <= 1)) throw UsageError(fmt::format("the profile ratio n_min/n_max = {} is not in (0, 1]", ratio));
    std::vector<std::int64_t> counts(classes);
    for (std::size_t i = 0; i < classes; ++i) {
        double exponent = classes > 1 ? static_cast<double>(i) / static_cast<double>(classes - 1) : 0.0;
        // The small epsilon keeps values that are whole numbers in exact
        // arithmetic (e.g. 500 * 0.01) from flooring one below.
        counts[i] = static_cast<std::int64_t>(std::floor(static_cast<double>(n_max) * std::pow(ratio, exponent) + 1e-9));
    }
    return counts;
}

Selection subsample_by_profile(const std::vector<ListEntry>& source, const ProfileOptions& options) {
    if (options.val_per_class < 0) throw UsageError("--val-per-class must not be negative");
    const std::vector<std::int64_t> available = class_counts(source);
    std::vector<std::size_t> labels = present_labels(available);
    std::vector<std::int64_t> profile = exponential_profile(options.n_max, options.ratio, labels.size());
    if (profile.back() < 1)
        throw UsageError(fmt::format("the profile gives the smallest class {} images", profile.back()),
                         "raise --n-min or --n-max, or lower --imbalance");

    Rng rng = make_rng(options.seed, {kProfileStream});
    // Which class gets which rank: label order (CIFAR-LT) or a seeded
    // permutation, so that labels are not sorted by frequency (ImageNet-LT).
    if (options.shuffle_classes) shuffle(labels, rng);
    Selection selection;
    selection.train_counts.assign(available.size(), 0);
    for (std::size_t rank = 0; rank < labels.size(); ++rank) selection.train_counts[labels[rank]] = profile[rank];

    std::vector<std::vector<std::size_t>> members = indices_by_class(source);
    for (std::size_t label = 0; label < members.size(); ++label) {
        std::vector<std::size_t>& images = members[label];
        if (images.empty()) continue;
        const auto wanted = static_cast<std::size_t>(selection.train_counts[label]);
        const auto wanted_val = static_cast<std::size_t>(options.val_per_class);
        if (images.size() < wanted + wanted_val)
            throw Error(fmt::format("class {} has {} images; the profile asks for {}{}", label, images.size(), wanted,
                                    wanted_val ? fmt::format(" + {} for validation", wanted_val) : std::string()),
                        "lower --n-max or --val-per-class");
        shuffle(images, rng);
        selection.train.insert(selection.train.end(), images.begin(), images.begin() + static_cast<std::ptrdiff_t>(wanted));
        selection.val.insert(selection.val.end(), images.begin() + static_cast<std::ptrdiff_t>(wanted),
                             images.begin() + static_cast<std::ptrdiff_t>(wanted + wanted_val));
    }
    std::sort(selection.train.begin(), selection.train.end());
    std::sort(selection.val.begin(), selection.val.end());
    return selection;
}

void log_class_summary(const std::string& what, const std::vector<std::int64_t>& class_counts,
                       const std::vector<std::string>& class_names) {
    GroupSizes groups = group_sizes(class_counts);
    std::int64_t images = 0;
    for (std::int64_t count : class_counts) images += count;
    std::string absent = groups.absent ? fmt::format("; {} labels without images", groups.absent) : std::string();
    log::info("{}: {} images in {} classes: {} many (n > 100), {} medium, {} few (n < 20){}", what, images,
              groups.many + groups.medium + groups.few, groups.many, groups.medium, groups.few, absent);

    // Every class is shown for small sets; with hundreds, only with -v.
    constexpr std::size_t kShownClasses = 50, kPerLine = 10;
    if (class_counts.size() > kShownClasses && log::level() < 2) {
        log::info("{}: per-class counts not shown for {} classes (use -v)", what, class_counts.size());
        return;
    }
    for (std::size_t first = 0; first < class_counts.size(); first += kPerLine) {
        std::string line;
        for (std::size_t label = first; label < std::min(first + kPerLine, class_counts.size()); ++label) {
            // Names help for a handful of classes, unless they are the labels themselves.
            bool named = label < class_names.size() && class_names.size() <= kPerLine &&
                         class_names[label] != std::to_string(label);
            line += fmt::format("{}{}{}:{}", line.empty() ? "" : " ", label,
                                named ? fmt::format(" ({})", class_names[label]) : std::string(), class_counts[label]);
        }
        log::info("{} per class (label:count): {}", what, line);
    }
}

// ---- subcommands -----------------------------------------------------------

void FashionMnistOptions::add_to(CLI::App& command) {
    output.add_to(command, "output folder (created if needed)");
    seed.add_to(command);
    command.add_option("--source", source, "folder of the Fashion-MNIST IDX files")->capture_default_str();
    command.add_option("--n-max", n_max, "training images of the largest class")->capture_default_str();
    command.add_option("--n-min", n_min, "training images of the smallest class")->capture_default_str();
    command.add_option("--val-per-class", val_per_class, "validation images per class, from unused training images")
        ->capture_default_str();
    command.add_option("--unlabelled", unlabelled,
                       "also write unlabelled.txt: N training images that train and val do not use, paths only")
        ->check(cli::NonNegative)
        ->type_name("N")
        ->capture_default_str();
}

namespace {

// n seeded random indices of the source that the selection does not use, ascending.
std::vector<std::size_t> unused_images(std::size_t source_size, const Selection& selection, std::int64_t n,
                                       std::uint64_t seed) {
    std::vector<bool> used(source_size, false);
    for (const auto* part : {&selection.train, &selection.val})
        for (std::size_t index : *part) used[index] = true;
    std::vector<std::size_t> unused;
    for (std::size_t i = 0; i < source_size; ++i)
        if (!used[i]) unused.push_back(i);
    if (static_cast<std::size_t>(n) > unused.size())
        throw UsageError(fmt::format("--unlabelled {} is more than the {} unused training images", n, unused.size()));
    Rng rng = make_rng(seed, {0x756e6c});  // a stream of its own: train and val stay as without it
    const std::vector<std::size_t> order = random_permutation(unused.size(), rng);
    std::vector<std::size_t> picked;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) picked.push_back(unused[order[i]]);
    std::sort(picked.begin(), picked.end());
    return picked;
}

}  // namespace

void run_fashion_mnist(const FashionMnistOptions& options) {
    if (options.output.path == "-") throw UsageError("fashion-mnist writes a folder; -o - is not possible");
    if (options.n_min < 1 || options.n_min > options.n_max)
        throw UsageError(fmt::format("--n-min {} must be between 1 and --n-max {}", options.n_min, options.n_max));
    const IdxSplit train = read_fashion_split(options.source, "train");
    const IdxSplit test = read_fashion_split(options.source, "t10k");

    const std::vector<ListEntry> train_source = fashion_entries(train, "train");
    const std::vector<ListEntry> test_entries = fashion_entries(test, "test");
    ProfileOptions profile;
    profile.n_max = options.n_max;
    profile.ratio = static_cast<double>(options.n_min) / static_cast<double>(options.n_max);
    profile.val_per_class = options.val_per_class;
    profile.shuffle_classes = true;
    profile.seed = options.seed.seed;
    const Selection selection = subsample_by_profile(train_source, profile);
    // Chosen before anything is written: it may refuse the options.
    std::vector<std::size_t> unlabelled;
    if (options.unlabelled > 0)
        unlabelled = unused_images(train_source.size(), selection, options.unlabelled, options.seed.seed);

    const fs::path root = options.output.path;
    for (const char* split : {"train", "test"})
        for (std::size_t label = 0; label < kFashionClasses; ++label) create_folder(root / split / std::to_string(label));
    write_fashion_pngs(train, train_source, selection.train, root);
    write_fashion_pngs(train, train_source, selection.val, root);
    std::vector<std::size_t> all_test(test.count);
    for (std::size_t i = 0; i < test.count; ++i) all_test[i] = i;
    write_fashion_pngs(test, test_entries, all_test, root);
    write_fashion_pngs(train, train_source, unlabelled, root);

    // The lists last: a data set whose lists exist is complete.
    // An earlier run's unlabelled.txt may list images of this run's train.txt.
    const fs::path old_unlabelled = root / "unlabelled.txt";
    std::error_code ignored;
    if (unlabelled.empty() && fs::is_regular_file(old_unlabelled, ignored)) {
        if (!fs::remove(old_unlabelled, ignored))
            throw Error(fmt::format("cannot remove an earlier run's {}: {}", old_unlabelled.string(), ignored.message()));
        log::info("removed an earlier run's {} (this run has no --unlabelled)", old_unlabelled.string());
    }
    const std::vector<std::string> names(std::begin(kFashionClassNames), std::end(kFashionClassNames));
    write_classes((root / "classes.txt").string(), names);
    write_list((root / "val.txt").string(), pick(train_source, selection.val));
    write_list((root / "test.txt").string(), test_entries);
    if (!unlabelled.empty()) {
        std::vector<ListEntry> paths = pick(train_source, unlabelled);
        for (ListEntry& entry : paths) entry.label = kUnknownLabel;
        write_list((root / "unlabelled.txt").string(), paths);
    }
    write_list((root / "train.txt").string(), pick(train_source, selection.train));

    log_class_summary("train", selection.train_counts, names);
    log::info("val: {} images ({} per class); test: {} images{}; written to {}", selection.val.size(),
              options.val_per_class, test_entries.size(),
              unlabelled.empty() ? "" : fmt::format("; unlabelled: {} images", unlabelled.size()), root.string());
}

void SubsampleOptions::add_to(CLI::App& command) {
    command.add_option("LIST", list, "list file to subsample ('-' = stdin)")->required();
    output.add_to(command, "subsampled training list ('-' = stdout)");
    seed.add_to(command);
    command.add_option("--n-max", n_max, "training images of the largest class")->required();
    auto* smallest = command.add_option("--n-min", n_min, "training images of the smallest class");
    auto* ratio = command.add_option("--imbalance", imbalance, "imbalance factor n_max / n_min (e.g. 100)");
    smallest->excludes(ratio);
    command.add_option("--val-per-class", val_per_class, "validation images per class, from the unused images")
        ->capture_default_str();
    command.add_option("--val-output", val_output, "validation list (needs --val-per-class)")
        ->check(cli::OutputPath)
        ->type_name("PATH");
    command.add_flag("--shuffle-classes", shuffle_classes,
                     "assign the profile's counts to classes in a seeded random order, not by label");
}

void run_subsample(const SubsampleOptions& options) {
    ProfileOptions profile;
    profile.n_max = options.n_max;
    if (options.n_min > 0) {
        if (options.n_min > options.n_max)
            throw UsageError(fmt::format("--n-min {} is larger than --n-max {}", options.n_min, options.n_max));
        profile.ratio = static_cast<double>(options.n_min) / static_cast<double>(options.n_max);
    } else if (options.imbalance > 0) {
        if (options.imbalance < 1)
            throw UsageError(fmt::format("--imbalance {} is below 1", options.imbalance), "it is n_max / n_min, e.g. 100");
        profile.ratio = 1.0 / options.imbalance;
    } else {
        throw UsageError("give --n-min or --imbalance (both at least 1)");
    }
    if (options.val_per_class > 0 && options.val_output.empty())
        throw UsageError("--val-per-class needs --val-output");
    if (options.val_per_class == 0 && !options.val_output.empty())
        throw UsageError("--val-output needs --val-per-class");
    cli::require_distinct_outputs({{"--output", options.output.path}, {"--val-output", options.val_output}});
    profile.val_per_class = options.val_per_class;
    profile.shuffle_classes = options.shuffle_classes;
    profile.seed = options.seed.seed;

    const std::vector<ListEntry> source = read_list(options.list);
    warn_repeated_images(source, options.list == "-" ? "standard input" : options.list,
                         "an image may be drawn twice, or for both training and validation");
    const Selection selection = subsample_by_profile(source, profile);
    std::vector<std::pair<std::string, std::string>> outputs{
        {options.output.path, format_list(pick(source, selection.train))}};
    if (!options.val_output.empty()) outputs.emplace_back(options.val_output, format_list(pick(source, selection.val)));
    write_text_outputs_together(outputs);
    log_class_summary("train", selection.train_counts);
    if (!options.val_output.empty())
        log::info("val: {} images ({} per class)", selection.val.size(), options.val_per_class);
}

void FolderOptions::add_to(CLI::App& command) {
    command.add_option("ROOT", root, "folder with one sub-folder of images per class")->required()->check(CLI::ExistingDirectory);
    output.add_to(command, "list file, paths relative to ROOT ('-' = stdout)");
    command.add_option("--class-names-output", classes_output,
                       "class names file (default: classes.txt beside the list; none for -o -)")
        ->check(cli::OutputPath)
        ->type_name("PATH");
    cli::add_deprecated_alias(command, "--classes", "--class-names-output", classes_output)->check(cli::OutputPath);
}

void run_folder(const FolderOptions& options) {
    // Class folders sorted by name give labels 0..C-1, as torchvision's
    // ImageFolder. Hidden folders and files (.ipynb_checkpoints, ._photo.jpg
    // of macOS) are tool litter, not classes or images: they are skipped.
    std::vector<std::string> class_names, hidden, broken_links;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(options.root, error)) {
        if (!entry.is_directory()) continue;
        std::string name = entry.path().filename().string();
        (is_hidden(entry.path()) ? hidden : class_names).push_back(std::move(name));
    }
    if (error) throw Error(fmt::format("cannot list '{}': {}", options.root, error.message()));
    if (class_names.empty()) throw Error(fmt::format("'{}' has no class folders", options.root), "one folder per class");
    std::sort(class_names.begin(), class_names.end());

    std::vector<ListEntry> entries;
    for (std::size_t label = 0; label < class_names.size(); ++label) {
        check_listable(class_names[label], "class folder");
        const fs::path folder = fs::path(options.root) / class_names[label];
        std::vector<std::string> images;
        // Folder symlinks are followed; one that leads back into the walk
        // would make it endless.
        std::error_code ignored;
        std::set<fs::path> walked{fs::weakly_canonical(folder, ignored)};
        auto walk = fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink, error);
        for (auto it = walk; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
            const bool folder_entry = it->is_directory(ignored);
            const std::string relative = it->path().lexically_relative(options.root).generic_string();
            // A link to nothing named like an image is neither listed nor passed over in silence.
            if (it->is_symlink(ignored) && !fs::exists(it->status(ignored)) && is_image_file(it->path()) &&
                !is_hidden(it->path()))
                broken_links.push_back(relative);
            if (!folder_entry && !(it->is_regular_file(ignored) && is_image_file(it->path()))) continue;
            if (folder_entry && !walked.insert(fs::weakly_canonical(it->path(), ignored)).second &&
                it->is_symlink(ignored))
                throw Error(fmt::format("'{}' is a symbolic link back to a folder already listed (a loop)", relative),
                            "remove the link, or link to the images instead");
            if (is_hidden(it->path())) {
                if (folder_entry) it.disable_recursion_pending();
                hidden.push_back(relative);
            } else if (!folder_entry) {
                images.push_back(relative);
            }
        }
        if (error) throw Error(fmt::format("cannot list '{}': {}", folder.string(), error.message()));
        if (images.empty())
            throw Error(fmt::format("class folder '{}' has no image files", folder.string()),
                        "images end in .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff or .webp");
        // torchvision's order: sorted(os.walk(folder)) then sorted file names,
        // i.e. by folder, then by name (bytes, whatever the locale).
        std::sort(images.begin(), images.end(), [](const std::string& a, const std::string& b) {
            const fs::path first(a), second(b);
            const std::string first_folder = first.parent_path().generic_string(),
                              second_folder = second.parent_path().generic_string();
            return first_folder != second_folder ? first_folder < second_folder
                                                 : first.filename().string() < second.filename().string();
        });
        for (std::string& path : images) {
            check_listable(path, "image path");
            entries.push_back({std::move(path), static_cast<std::int64_t>(label), 0});
        }
    }

    std::string classes_path = options.classes_output;
    if (classes_path.empty() && options.output.path != "-")
        classes_path = (fs::path(options.output.path).parent_path() / "classes.txt").string();
    if (!classes_path.empty() && classes_path == options.output.path)
        throw UsageError("the class names and the list would be the same file", "give --class-names-output");
    std::vector<std::pair<std::string, std::string>> outputs{{options.output.path, format_list(entries)}};
    if (!classes_path.empty()) outputs.emplace_back(classes_path, format_classes(class_names, classes_path));
    write_text_outputs_together(outputs);
    if (!hidden.empty()) {
        std::sort(hidden.begin(), hidden.end());
        log::warn("skipped {} hidden {} (names starting with '.'): {}", hidden.size(),
                  hidden.size() == 1 ? "folder or file" : "folders and files", shortened(hidden, 5));
    }
    if (!broken_links.empty()) {
        std::sort(broken_links.begin(), broken_links.end());
        log::warn("skipped {} symbolic {} to nothing: {}", broken_links.size(),
                  broken_links.size() == 1 ? "link" : "links", shortened(broken_links, 5));
    }
    log_class_summary("list", class_counts(entries), class_names);
}

void CheckOptions::add_to(CLI::App& command) {
    command.add_option("LIST", list, "list file ('-' = stdin); lines with a path only are checked too")->required();
    command.add_option("--root", root, "folder the list's paths are relative to")->required();
    command.add_option("-o,--output", good_output, "also write the lines whose images decode to this list")
        ->check(cli::OutputPath)
        ->type_name("GOOD.txt");
}

void run_check(const CheckOptions& options, const Compute& compute) {
    if (options.good_output == "-")
        throw UsageError("-o - is not possible: the bad lines are reported on standard output",
                         "give -o a file name");
    const ImageDataset dataset = open_image_dataset(options.list, options.root, Labels::optional);
    // Refused now, not after decoding every image.
    if (!options.good_output.empty()) check_not_an_input(options.good_output);
    const std::size_t count = dataset.size();
    warn_repeated_images(dataset.entries, dataset.list_name, "lt-train and lt-extract use it as often as it is listed");
    const int workers = std::max(1, std::min<int>(compute.workers, static_cast<int>(count)));

    // Every image is decoded once; each problem is kept by list position, so
    // the report is in list order whatever the threads' timing.
    std::vector<std::string> problems(count);
    std::atomic<std::size_t> next{0};
    std::mutex mutex;
    int min_side = std::numeric_limits<int>::max(), max_side = 0;
    Progress progress("images", static_cast<std::int64_t>(count), "images");
    auto check_images = [&] {
        int local_min = std::numeric_limits<int>::max(), local_max = 0;
        cv::Mat image;
        for (std::size_t i = next++; i < count; i = next++) {
            // Nothing may escape a thread (it would end the process).
            try {
                problems[i] = try_read_image_rgb(dataset.image_path(i), image);
            } catch (const std::bad_alloc&) {
                problems[i] = "out of memory decoding it";
            } catch (const std::exception& error) {
                problems[i] = error.what();
            }
            if (problems[i].empty()) {
                local_min = std::min({local_min, image.rows, image.cols});
                local_max = std::max({local_max, image.rows, image.cols});
            }
            progress.advance();
        }
        std::lock_guard<std::mutex> lock(mutex);
        min_side = std::min(min_side, local_min);
        max_side = std::max(max_side, local_max);
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < workers; ++t) threads.emplace_back(check_images);
    check_images();
    for (std::thread& thread : threads) thread.join();
    progress.finish();

    // stdout: one line per bad list line, "<line>\t<path>\t<why>".
    std::vector<ListEntry> good;
    std::string report;
    for (std::size_t i = 0; i < count; ++i) {
        const ListEntry& entry = dataset.entries[i];
        if (problems[i].empty())
            good.push_back(entry);
        else
            fmt::format_to(std::back_inserter(report), "{}\t{}\t{}\n", entry.line, tsv_field(entry.path),
                           tsv_field(problems[i]));
    }
    std::fwrite(report.data(), 1, report.size(), stdout);
    if (!options.good_output.empty()) {
        if (good.empty())
            throw Error(fmt::format("none of the {} images of {} can be used; {} was not written", count,
                                    dataset.list_name, options.good_output));
        write_list(options.good_output, good);
    }
    const std::size_t bad = count - good.size();
    if (bad > 0)
        throw Error(fmt::format("{} of the {} images of {} cannot be used (their lines are on standard output){}", bad,
                                count, dataset.list_name,
                                options.good_output.empty()
                                    ? std::string()
                                    : fmt::format("; the other {} lines are in {}", good.size(), options.good_output)),
                    options.good_output.empty() ? "-o GOOD.txt writes a list without them" : "");

    log_class_summary("list", class_counts(dataset.entries));
    const auto unlabelled = static_cast<std::size_t>(std::count_if(
        dataset.entries.begin(), dataset.entries.end(), [](const ListEntry& entry) { return entry.label < 0; }));
    log::info("all {} images decode{}; image sides from {} to {} pixels", count,
              unlabelled ? fmt::format(" ({} of them unlabelled)", unlabelled) : std::string(), min_side, max_side);
}

void Options::add_to(CLI::App& app) {
    // At most one; none is refused by run(), so that a mistyped subcommand
    // is named ("not expected: shufle") rather than called missing.
    app.require_subcommand(0, 1);
    // Lets the common options (-q, -v, ...) come after the subcommand.
    app.fallthrough();
    auto add = [&](const char* name, const char* summary, auto& options, std::function<void(const Compute&)> run) {
        CLI::App* command = app.add_subcommand(name, summary);
        options.add_to(*command);
        commands_.emplace_back(command, std::move(run));
    };
    add("fashion-mnist", "Build Fashion-MNIST-LT (PNGs, train/val/test lists, classes.txt) from the IDX files",
        fashion_mnist, [this](const Compute&) { run_fashion_mnist(fashion_mnist); });
    add("subsample", "Subsample a list file to an exponential long-tail profile", subsample,
        [this](const Compute&) { run_subsample(subsample); });
    add("folder", "List an ImageFolder tree (one folder per class, sorted names = labels 0..C-1)", folder,
        [this](const Compute&) { run_folder(folder); });
    add("check", "Decode every image of a list file; report every line whose image fails", check,
        [this](const Compute& compute) { run_check(check, compute); });
}

void Options::run(const Compute& compute) const {
    for (const auto& [command, run_command] : commands_)
        if (command->parsed()) return run_command(compute);
    throw UsageError("give a subcommand: fashion-mnist, subsample, folder or check");
}

}  // namespace lt::data
