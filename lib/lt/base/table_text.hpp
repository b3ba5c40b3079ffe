// Fields of the text tables the tools print (TSV, CSV, markdown): any name
// (a class name from classes.txt, a file name) becomes one field that the
// table's reader splits back correctly.
#pragma once

#include <string>

namespace lt {

// A TSV field: tabs and line breaks, which would split the field or the
// row, become spaces (TSV has no quoting).
std::string tsv_field(const std::string& text);

// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a
// comma, a quote or a line break.
std::string csv_field(const std::string& text);

// A markdown table cell: '|' is escaped, line breaks become spaces.
std::string markdown_field(const std::string& text);

}  // namespace lt
