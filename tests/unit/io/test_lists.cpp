// List files: parsing (paths with spaces, CRLF, blank lines), errors that
// name file and line, writing, class counts and shot groups.
#include "lt/base/error.hpp"
#include "lt/base/groups.hpp"
#include "lt/io/lists.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

namespace {

std::vector<lt::ListEntry> parse(const std::string& text) {
    std::istringstream input(text);
    return lt::parse_list(input, "train.txt");
}

std::string error_of(const std::string& text) {
    try {
        parse(text);
    } catch (const lt::Error& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("list lines: the label is the last field, paths may hold spaces") {
    auto entries = parse("train/n01440764/n01440764_190.JPEG 0\r\n"
                         "\n"
                         "  my photos/cat 3.png\t12  \r\n"
                         "   \r\n"
                         "a 7");
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].path == "train/n01440764/n01440764_190.JPEG");
    CHECK(entries[0].label == 0);
    CHECK(entries[0].line == 1);
    CHECK(entries[1].path == "my photos/cat 3.png");
    CHECK(entries[1].label == 12);
    CHECK(entries[1].line == 3);
    CHECK(entries[2].path == "a");
    CHECK(entries[2].label == 7);
    CHECK(entries[2].line == 5);
}

TEST_CASE("list errors name the file and the line") {
    CHECK(error_of("a.png 1\nb.png x\n") == "train.txt line 2: label 'x' is not an integer");
    CHECK(error_of("a.png 1\n\nb.png 1.5\n") == "train.txt line 3: label '1.5' is not an integer");
    CHECK(error_of("a.png 1\nb.png 3a\n") == "train.txt line 2: label '3a' is not an integer");
    CHECK(error_of("a.png -2\n") == "train.txt line 1: label -2 is negative");
    CHECK(error_of("ok.png 0\nlonely.png\n") == "train.txt line 2: 'lonely.png' has no label");
    CHECK(error_of("a.png 99999999999999999999\n") == "train.txt line 1: label '99999999999999999999' is out of range");
    CHECK(error_of("a.png 100000000\n").find("too large") != std::string::npos);
    CHECK(error_of("") == "list 'train.txt' has no entries");
    CHECK(error_of("\r\n  \n\n") == "list 'train.txt' has no entries");
}

TEST_CASE("comment lines are skipped; path-only lines have label -1 where labels are optional") {
    auto entries = parse("# ImageNet-LT, a few lines\n"
                         "a.png 0\n"
                         "   # indented comment 5\n"
                         "#b.png 1\n"
                         "c#d.png 2\n");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].line == 2);
    CHECK(entries[1].path == "c#d.png");
    CHECK(entries[1].line == 5);

    std::istringstream input("x.png 3\nunlabelled/frame_7.png\n\nonly.png\n");
    auto mixed = lt::parse_list(input, "infer.txt", lt::Labels::optional);
    REQUIRE(mixed.size() == 3);
    CHECK(mixed[0].label == 3);
    CHECK(mixed[1].path == "unlabelled/frame_7.png");
    CHECK(mixed[1].label == -1);
    CHECK(mixed[2].path == "only.png");
    CHECK(mixed[2].label == lt::kUnknownLabel);
    CHECK(mixed[2].line == 4);
    // Written back, the path-only lines stay path-only; counts skip them.
    CHECK(lt::format_list(mixed) == "x.png 3\nunlabelled/frame_7.png\nonly.png\n");
    CHECK(lt::class_counts(mixed) == std::vector<std::int64_t>{0, 0, 0, 1});
    CHECK(lt::indices_by_class(mixed).size() == 4);
    // A path with spaces needs its label: its last word would be read as one.
    std::istringstream spaced("frame 7.png\n");
    CHECK_THROWS_WITH_AS(lt::parse_list(spaced, "infer.txt", lt::Labels::optional),
                         "infer.txt line 1: label '7.png' is not an integer", lt::Error);
}

TEST_CASE("a UTF-8 byte order mark is not part of the first path") {
    auto entries = parse("\xEF\xBB\xBFx.png 1\n");
    CHECK(entries[0].path == "x.png");
}

TEST_CASE("lists are written atomically and read back") {
    lt::test::TempFolder folder;
    std::vector<lt::ListEntry> entries = {{"a b/c.png", 2, 0}, {"d.png", 0, 0}};
    const std::string path = folder.file("list.txt");
    lt::write_list(path, entries);
    CHECK(lt::format_list(entries) == "a b/c.png 2\nd.png 0\n");
    auto read = lt::read_list(path);
    REQUIRE(read.size() == 2);
    CHECK(read[0].path == "a b/c.png");
    CHECK(read[1].label == 0);
    // Only the list itself is left: no temporary file.
    CHECK(std::distance(std::filesystem::directory_iterator(folder.path()), std::filesystem::directory_iterator()) == 1);

    CHECK_THROWS_AS(lt::write_list(folder.file("missing/folder/list.txt"), entries), lt::Error);
    CHECK_THROWS_WITH_AS(lt::read_list(folder.file("nope.txt")),
                         doctest::Contains("cannot read list"), lt::Error);
}

TEST_CASE("classes.txt: one name per line, no blank line in between") {
    lt::test::TempFolder folder;
    auto names = lt::read_classes(folder.write("classes.txt", "T-shirt/top\r\nAnkle boot\r\n\r\n"));
    CHECK(names == std::vector<std::string>{"T-shirt/top", "Ankle boot"});
    CHECK_THROWS_WITH_AS(lt::read_classes(folder.write("bad.txt", "a\n\nb\n")),
                         doctest::Contains("line 2: blank class name"), lt::Error);
    CHECK_THROWS_AS(lt::read_classes(folder.write("empty.txt", "\n")), lt::Error);

    lt::write_classes(folder.file("out.txt"), {"cat", "dog food"});
    CHECK(lt::read_classes(folder.file("out.txt")) == std::vector<std::string>{"cat", "dog food"});
    CHECK_THROWS_AS(lt::write_classes(folder.file("out2.txt"), {"two\nlines"}), lt::Error);
}

TEST_CASE("class counts and indices by class") {
    std::vector<lt::ListEntry> entries = {{"a", 2, 1}, {"b", 0, 2}, {"c", 2, 3}, {"d", 4, 4}};
    CHECK(lt::class_counts(entries) == std::vector<std::int64_t>{1, 0, 2, 0, 1});
    auto indices = lt::indices_by_class(entries);
    REQUIRE(indices.size() == 5);
    CHECK(indices[2] == std::vector<std::size_t>{0, 2});
    CHECK(indices[1].empty());
}

TEST_CASE("shot groups: many n > 100, few n < 20, absent apart") {
    auto groups = lt::group_sizes({101, 100, 20, 19, 0, 1, 5000});
    CHECK(groups.many == 2);
    CHECK(groups.medium == 2);
    CHECK(groups.few == 2);
    CHECK(groups.absent == 1);
    auto custom = lt::group_sizes({50, 10}, lt::GroupThresholds{40, 11});
    CHECK(custom.many == 1);
    CHECK(custom.few == 1);
}

TEST_CASE("repeated images: lines naming an earlier line's image, however spelt") {
    const auto entries = parse("a.png 0\n# comment\n./a.png 0\nb c.png 1\nx/../a.png 2\nsub//d.png 3\nsub/d.png 3\n"
                               "b c.png 1\nB c.png 1\n");
    using Repeat = std::pair<std::size_t, std::size_t>;
    const std::vector<Repeat> expected = {{3, 1}, {5, 1}, {7, 6}, {8, 4}};
    CHECK(lt::repeated_images(entries) == expected);
    CHECK(lt::repeated_images(parse("a.png 0\nb.png 0\n")).empty());
}
