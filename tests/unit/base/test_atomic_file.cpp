// Whole-file outputs: all or none, never two outputs on one file, never an
// output over an input.
#include "lt/base/atomic_file.hpp"
#include "lt/base/error.hpp"

#include "temp_folder.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Names in folder other than the given ones (temporaries left behind).
int other_entries(const std::filesystem::path& folder, std::size_t expected) {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        (void)entry;
        ++count;
    }
    return static_cast<int>(count) - static_cast<int>(expected);
}

}  // namespace

TEST_CASE("write_text_outputs_together writes every file, or none when one cannot be written") {
    lt::test::TempFolder folder;
    const std::string a = folder.file("a.txt"), b = folder.file("b.txt");
    lt::write_text_outputs_together({{a, "first\n"}, {b, "second\n"}});
    CHECK(read_file(a) == "first\n");
    CHECK(read_file(b) == "second\n");

    const std::string c = folder.file("c.txt"), missing = folder.file("no-such-folder/d.txt");
    CHECK_THROWS_AS(lt::write_text_outputs_together({{c, "third\n"}, {missing, "fourth\n"}}), lt::Error);
    CHECK_FALSE(std::filesystem::exists(c));
    CHECK(other_entries(folder.path(), 2) == 0);  // a.txt, b.txt and no temporary
}

TEST_CASE("one run cannot register two outputs of one file") {
    lt::test::TempFolder folder;
    const std::string path = folder.file("out.h5"), temporary = lt::temporary_path(path);
    lt::register_temporary(temporary, path);
    CHECK_THROWS_AS(lt::register_temporary(temporary, path), lt::UsageError);
    // The same path written whole while the first output is pending.
    CHECK_THROWS_AS(lt::write_file_atomically(path, "x"), lt::UsageError);
    lt::unregister_temporary(temporary);
    lt::write_file_atomically(path, "x");
    CHECK(read_file(path) == "x");
}

TEST_CASE("an output may not replace an input, by whatever path, unless allowed") {
    lt::test::TempFolder folder;
    const std::string input = folder.file("in.txt"), link = folder.file("link.txt");
    lt::write_file_atomically(input, "data\n");
    std::filesystem::create_symlink(input, link);
    lt::protect_input(link);
    CHECK_THROWS_AS(lt::check_not_an_input(input), lt::UsageError);
    CHECK_THROWS_AS(lt::write_file_atomically(folder.file("./in.txt"), "other\n"), lt::UsageError);
    CHECK(read_file(input) == "data\n");
    CHECK_NOTHROW(lt::check_not_an_input(folder.file("elsewhere.txt")));
    lt::allow_replacing(input);
    lt::write_file_atomically(input, "updated\n");
    CHECK(read_file(input) == "updated\n");
    // The new file is another inode: nothing of it is protected.
    CHECK_NOTHROW(lt::check_not_an_input(input));
}

TEST_CASE("the signal-cleanup registry holds any number of pending outputs") {
    // More than one block of slots, as a long lt-attend sweep keeps open.
    lt::test::TempFolder folder;
    std::vector<std::string> paths, temporaries;
    for (int i = 0; i < 600; ++i) {
        paths.push_back(folder.file(fmt::format("wh{}.h5", i)));
        temporaries.push_back(lt::temporary_path(paths.back()));
        lt::register_temporary(temporaries.back(), paths.back());
        std::ofstream(temporaries.back()) << "pending";
    }
    CHECK_THROWS_AS(lt::register_temporary(temporaries[599], paths[599]), lt::UsageError);
    CHECK_THROWS_AS(lt::register_temporary(temporaries[300], paths[300]), lt::UsageError);
    CHECK(other_entries(folder.path(), 0) == 600);
    lt::remove_registered_temporaries();  // what the signal handler does
    CHECK(other_entries(folder.path(), 0) == 0);
    for (const auto& temporary : temporaries) lt::unregister_temporary(temporary);
    // Freed slots are reused, and a released name may be registered again.
    lt::register_temporary(temporaries[599], paths[599]);
    lt::unregister_temporary(temporaries[599]);
}
