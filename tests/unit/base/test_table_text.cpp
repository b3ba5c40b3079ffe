// Fields of the TSV, CSV and markdown tables: each name stays one field.
#include "lt/base/table_text.hpp"

#include <doctest/doctest.h>

TEST_CASE("table fields: TSV has no quoting, so tabs and line breaks become spaces") {
    CHECK(lt::tsv_field("t-shirt/top") == "t-shirt/top");
    CHECK(lt::tsv_field("a\tb\nc\r\nd") == "a b c  d");
    CHECK(lt::tsv_field("") == "");
}

TEST_CASE("table fields: CSV quotes a field with a comma, a quote or a line break") {
    CHECK(lt::csv_field("plain name") == "plain name");
    CHECK(lt::csv_field("a,b") == "\"a,b\"");
    CHECK(lt::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(lt::csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(lt::csv_field("cr\r") == "\"cr\r\"");
    CHECK(lt::csv_field("tab\tis fine") == "tab\tis fine");
}

TEST_CASE("table fields: a markdown cell escapes '|' and keeps to one line") {
    CHECK(lt::markdown_field("a|b") == "a\\|b");
    CHECK(lt::markdown_field("x\ny") == "x y");
    CHECK(lt::markdown_field("tab\tok") == "tab\tok");
}
