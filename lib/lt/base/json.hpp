// JSON text of values the tools print (lt-info --json, lt-eval --format json).
#pragma once

#include <string>

namespace lt {

// text as a quoted JSON string. Bytes that are not valid UTF-8 (a file name
// or an HDF5 attribute may hold any) become U+FFFD, one per maximal invalid
// subsequence as Unicode recommends, so the output always parses; valid
// UTF-8 is kept as it is.
std::string json_string(const std::string& text);

}  // namespace lt
