// The lt-h5 layer: round trips, type and version checks, atomic outputs.
#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/schema.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

TEST_CASE("a classifier round-trips with its attributes") {
    lt::test::TempFolder dir;
    lt::Classifier c;
    c.scale = 14.5;
    c.weights = lt::Matrix(2, 3);
    c.weights.values = {1, 2, 3, 4, 5, 6};
    c.class_ids = {7, 3};
    c.class_counts = {10, 200};
    c.composition = {{"mode", "p2w"}, {"k", "20"}, {"tau", "10"}, {"terms", "kt,p"}};
    {
        lt::h5::OutputFile out(dir.file("c.h5"), "classifier");
        lt::write_classifier_group(out, c);
        out.commit();
    }
    lt::h5::InputFile in(dir.file("c.h5"));
    CHECK(in.type() == "classifier");
    CHECK(in.attr_int("lt_schema_version") == 1);
    CHECK(in.attr_int("k") == 20);
    lt::ClassifierSet set = lt::read_classifier_set(in);
    REQUIRE(set.members.size() == 1);
    CHECK(set.members[0].weights.values == c.weights.values);
    CHECK(set.members[0].class_ids == c.class_ids);
    CHECK(set.members[0].scale == 14.5);
    CHECK(set.members[0].composition.at("terms") == "kt,p");
}

TEST_CASE("a cosine classifier with class scales and a bias is version 2, plain ones stay version 1") {
    lt::test::TempFolder dir;
    lt::Classifier c;
    c.weights = lt::Matrix(2, 2);
    c.weights.values = {1, 0, 0, 1};
    c.class_ids = {4, 9};
    c.class_counts = {30, 2};
    auto write = [&](const std::string& name, const lt::Classifier& classifier) {
        lt::h5::OutputFile out(dir.file(name), "classifier");
        lt::write_classifier_group(out, classifier);
        out.commit();
    };
    write("plain.h5", c);
    lt::Classifier extended = c;
    extended.class_scales = {0.5f, 2.0f};
    extended.bias = {-1.0f, 3.0f};
    extended.adjustment = {{"adjust", "logit-adjust"}, {"t", "1"}};
    write("extended.h5", extended);

    lt::h5::InputFile plain(dir.file("plain.h5"));
    CHECK_FALSE(plain.has_attr("version"));
    CHECK_FALSE(plain.has_dataset("bias"));
    lt::h5::InputFile in(dir.file("extended.h5"));
    CHECK(in.attr_int("version") == 2);
    const lt::Classifier back = lt::read_single_classifier(in, "a test");
    CHECK(back.class_scales == extended.class_scales);
    CHECK(back.bias == extended.bias);
    CHECK(back.adjustment.at("adjust") == "logit-adjust");
    CHECK(back.extended());
}

TEST_CASE("a version-1 cosine classifier's stray bias is ignored, a newer classifier version refused") {
    lt::test::TempFolder dir;
    lt::Classifier c;
    c.weights = lt::Matrix(1, 2);
    c.weights.values = {1, 1};
    c.class_ids = {0};
    c.class_counts = {5};
    {
        lt::h5::OutputFile out(dir.file("stray.h5"), "classifier");
        lt::write_classifier_group(out, c);
        out.write_floats("bias", {7.0f}, {1});
        out.commit();
    }
    lt::h5::InputFile stray(dir.file("stray.h5"));
    CHECK(lt::read_single_classifier(stray, "a test").bias.empty());
    {
        lt::h5::OutputFile out(dir.file("v3.h5"), "classifier");
        lt::write_classifier_group(out, c);
        out.set_attr("version", std::int64_t{3});
        out.commit();
    }
    lt::h5::InputFile newer(dir.file("v3.h5"));
    CHECK_THROWS_WITH_AS(lt::read_single_classifier(newer, "a test"),
                         doctest::Contains("classifier of version 3; this lt reads up to version 2"), lt::SchemaError);
}

TEST_CASE("an output that is not committed leaves nothing behind") {
    lt::test::TempFolder dir;
    {
        lt::h5::OutputFile out(dir.file("never.h5"), "classifier");
        out.write_ints("class_ids", std::vector<std::int64_t>{1, 2});
    }
    CHECK(fs::is_empty(dir.path()));
    // An existing file is only replaced by a complete new one.
    std::ofstream(dir.file("keep.h5")) << "old";
    { lt::h5::OutputFile out(dir.file("keep.h5"), "classifier"); }
    std::ifstream kept(dir.file("keep.h5"));
    std::string content((std::istreambuf_iterator<char>(kept)), {});
    CHECK(content == "old");
}

TEST_CASE("readers refuse other types, newer versions, duplicates and non-finite values") {
    lt::test::TempFolder dir;
    {
        lt::h5::OutputFile out(dir.file("p.h5"), "prototypes");
        out.write_floats("prototypes", std::vector<float>{1, 0, 0, 1}, {2, 2});
        out.write_ints("class_ids", std::vector<std::int64_t>{4, 4});
        out.write_ints("counts", std::vector<std::int64_t>{1, 1});
        out.commit();
    }
    lt::h5::InputFile prototypes(dir.file("p.h5"));
    CHECK_THROWS_WITH_AS(prototypes.check_type("features"), doctest::Contains("is a 'prototypes' file, expected features"),
                         lt::SchemaError);
    CHECK_THROWS_WITH_AS(lt::read_prototypes(prototypes), doctest::Contains("class id 4 twice"), lt::SchemaError);
    {
        lt::h5::OutputFile out(dir.file("v2.h5"), "features");
        out.set_attr("lt_schema_version", std::int64_t{2});
        out.commit();
    }
    lt::h5::InputFile newer(dir.file("v2.h5"));
    CHECK_THROWS_WITH_AS(newer.check_type("features"), doctest::Contains("schema version 2"), lt::SchemaError);
    float values[] = {1, NAN};
    CHECK_THROWS_WITH_AS(lt::check_finite(values, 2, "x"), doctest::Contains("non-finite"), lt::SchemaError);
    std::ofstream(dir.file("text.h5")) << "not hdf5";
    CHECK_THROWS_WITH_AS(lt::h5::InputFile(dir.file("text.h5")), doctest::Contains("not an HDF5 file"), lt::Error);
    CHECK_THROWS_WITH_AS(lt::h5::InputFile(dir.file("missing.h5")), doctest::Contains("No such file"), lt::Error);
}

TEST_CASE("streamed features equal the rows appended") {
    lt::test::TempFolder dir;
    {
        lt::h5::OutputFile out(dir.file("f.h5"), "features");
        lt::FeaturesWriter writer(out, 2, true, "test");
        float first[] = {1, 2, 3, 4};
        std::int64_t first_labels[] = {0, 1};
        writer.append(first, first_labels, 2, {"a.png", "b c.png"});
        float second[] = {5, 6};
        std::int64_t second_labels[] = {-1};
        writer.append(second, second_labels, 1, {"d.png"});
        out.commit();
    }
    lt::FeaturesReader reader(dir.file("f.h5"));
    CHECK(reader.rows() == 3);
    CHECK(reader.labels() == std::vector<std::int64_t>{0, 1, -1});
    float rows[4];
    reader.read(1, 2, rows);
    CHECK(rows[0] == 3);
    CHECK(rows[3] == 6);
    CHECK(reader.file().read_strings("ids") == std::vector<std::string>{"a.png", "b c.png", "d.png"});
    CHECK(reader.file().attr_string("split") == "test");
}

TEST_CASE("stale temporaries of killed processes are removed, live ones kept") {
    lt::test::TempFolder dir;
    const std::string target = dir.file("out.h5");
    const std::string mine = lt::temporary_path(target);
    // The temporary name: hidden, beside the target, ending in our pid.
    const std::string name = fs::path(mine).filename().string();
    CHECK(fs::path(mine).parent_path() == dir.path());
    CHECK(name.rfind(".out.h5.tmp.", 0) == 0);
    CHECK(name.substr(name.rfind('.') + 1) == std::to_string(::getpid()));

    // A child that has exited and been reaped: its pid is free.
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    const std::string prefix = name.substr(0, name.rfind('.') + 1);
    const std::string dead = dir.write(prefix + std::to_string(child), "partial");
    const std::string live = dir.write(prefix + "1", "init's");  // pid 1 always runs
    const std::string other_host = dir.write(".out.h5.tmp.elsewhere." + std::to_string(child), "theirs");
    const std::string other_file = dir.write(".other.h5.tmp" + prefix.substr(prefix.find(".tmp") + 4) +
                                                 std::to_string(child), "not ours");
    lt::remove_stale_temporaries(target);
    CHECK_FALSE(fs::exists(dead));
    CHECK(fs::exists(live));
    CHECK(fs::exists(other_host));
    CHECK(fs::exists(other_file));

    // Opening an output cleans up, and commit leaves only the target.
    dir.write(prefix + std::to_string(child), "partial");
    {
        lt::h5::OutputFile out(target, "classifier");
        out.commit();
    }
    CHECK_FALSE(fs::exists(dead));
    CHECK(fs::exists(target));
}

TEST_CASE("a dataset whose header claims more data than the file holds is refused before allocating") {
    lt::test::TempFolder dir;
    const std::string path = dir.file("claim.h5");
    {
        // Written with the HDF5 API directly: a contiguous dataset that is never
        // written stores nothing; 2^40 int64 labels would need 8 TiB.
        lt::h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        hsize_t huge = hsize_t{1} << 40, small = 1000;
        lt::h5::Handle huge_space(H5Screate_simple(1, &huge, nullptr));
        lt::h5::Handle small_space(H5Screate_simple(1, &small, nullptr));
        lt::h5::Handle a(H5Dcreate2(file.get(), "huge", H5T_STD_I64LE, huge_space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT));
        lt::h5::Handle b(H5Dcreate2(file.get(), "unwritten", H5T_STD_I64LE, small_space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT));
        // Compact storage (data inside the object header) is read as usual.
        lt::h5::Handle compact_properties(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_layout(compact_properties.get(), H5D_COMPACT);
        hsize_t three = 3;
        lt::h5::Handle three_space(H5Screate_simple(1, &three, nullptr));
        lt::h5::Handle c(H5Dcreate2(file.get(), "compact", H5T_IEEE_F64LE, three_space.get(), H5P_DEFAULT,
                                    compact_properties.get(), H5P_DEFAULT));
        const double values[3] = {1.5, -2, 4};
        H5Dwrite(c.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    }
    lt::h5::InputFile in(path);
    CHECK_THROWS_WITH_AS(in.read_ints("huge"), doctest::Contains("claims 8796093022208 bytes of data but the file stores 0"),
                         lt::SchemaError);
    CHECK_THROWS_AS(in.shape("huge"), lt::SchemaError);
    // A small dataset that was never written reads as zeros, as h5py gives it.
    auto zeros = in.read_ints("unwritten");
    CHECK(zeros.size() == 1000);
    CHECK(std::count(zeros.begin(), zeros.end(), 0) == 1000);
    CHECK(in.read_floats("compact") == std::vector<float>{1.5f, -2.0f, 4.0f});
}

TEST_CASE("labels: whole floats and [N, 1] columns are read, fractions and /ids of another length refused") {
    lt::test::TempFolder dir;
    auto write = [&](const std::string& name, const std::vector<float>& labels, const lt::h5::Shape& shape,
                     std::size_t ids) {
        lt::h5::OutputFile out(dir.file(name), "features");
        out.write_floats("features", std::vector<float>(6, 1.0f), {3, 2});
        out.write_floats("labels", labels, shape);
        if (ids) out.write_strings("ids", std::vector<std::string>(ids, "a.png"));
        out.commit();
    };
    write("column.h5", {4, 0, -1}, {3, 1}, 3);  // h5py: labels.reshape(-1, 1), float
    lt::FeaturesReader column(dir.file("column.h5"));
    CHECK(column.labels() == std::vector<std::int64_t>{4, 0, -1});

    write("fraction.h5", {4, 8.999999f, 1}, {3}, 0);
    CHECK_THROWS_WITH_AS(lt::FeaturesReader(dir.file("fraction.h5")),
                         doctest::Contains("fraction.h5:/labels holds 8.999999046325684 at element 1, which is not a "
                                           "whole number"),
                         lt::SchemaError);
    write("nan.h5", {4, NAN, 1}, {3}, 0);
    CHECK_THROWS_WITH_AS(lt::FeaturesReader(dir.file("nan.h5")), doctest::Contains("holds nan at element 1"),
                         lt::SchemaError);
    write("wide.h5", {1, 2, 3, 4, 5, 6}, {3, 2}, 0);
    CHECK_THROWS_WITH_AS(lt::FeaturesReader(dir.file("wide.h5")), doctest::Contains("has shape [3, 2], expected [3]"),
                         lt::SchemaError);
    write("ids.h5", {1, 2, 3}, {3}, 2);
    CHECK_THROWS_WITH_AS(lt::FeaturesReader(dir.file("ids.h5")),
                         doctest::Contains("ids.h5:/ids has shape [2], expected [3] to match /features"), lt::SchemaError);
}

namespace {

// Runs body in a child process with lt's signal handlers installed; returns
// its wait status.
template <typename Body>
int status_of_child(Body body) {
    pid_t child = ::fork();
    if (child == 0) {
        lt::h5::install_cleanup_on_signals();
        ::_exit(body());
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return status;
}

}  // namespace

TEST_CASE("SIGPIPE ends a tool only when its stdout lost its reader, not for a distributed job's socket") {
    // A socket whose peer died (as Gloo's when a rank is killed): the write fails, the process goes on.
    int socket_status = status_of_child([] {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 3;
        ::close(pair[1]);
        return ::write(pair[0], "x", 1) == -1 && errno == EPIPE ? 0 : 4;
    });
    CHECK(WIFEXITED(socket_status));
    CHECK(WEXITSTATUS(socket_status) == 0);
    // stdout into a pipe nobody reads (lt-... | head): the process ends by SIGPIPE.
    int stdout_status = status_of_child([] {
        int pipe_ends[2];
        if (::pipe(pipe_ends) != 0) return 3;
        ::close(pipe_ends[0]);
        ::dup2(pipe_ends[1], STDOUT_FILENO);
        ssize_t ignored = ::write(STDOUT_FILENO, "x", 1);
        (void)ignored;
        return 4;
    });
    CHECK(WIFSIGNALED(stdout_status));
    if (WIFSIGNALED(stdout_status)) CHECK(WTERMSIG(stdout_status) == SIGPIPE);
}
