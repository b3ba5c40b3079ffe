#include "lt/base/json.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("json_string escapes quotes, backslashes and control characters") {
    CHECK(lt::json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(lt::json_string("x\ny\tz\r") == "\"x\\ny\\tz\\r\"");
    CHECK(lt::json_string(std::string("\x01\x1f", 2)) == "\"\\u0001\\u001f\"");
    CHECK(lt::json_string("") == "\"\"");
}

TEST_CASE("json_string keeps valid UTF-8 and replaces invalid bytes by U+FFFD") {
    const std::string fffd = "\xEF\xBF\xBD";
    // valid: 2-, 3- and 4-byte sequences, the extremes of each range
    for (const std::string valid : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC2\x80", "\xDF\xBF",
                                    "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x90\x80\x80",
                                    "\xF4\x8F\xBF\xBF", "\x7F"})
        CHECK(lt::json_string(valid) == "\"" + valid + "\"");
    // The audit's cases: a lone 0xff, then 0xff 0xfe
    CHECK(lt::json_string("bad\xff.h5") == "\"bad" + fffd + ".h5\"");
    CHECK(lt::json_string("\xff\xfe") == "\"" + fffd + fffd + "\"");
    // a lone continuation byte; overlong forms (C0, C1, E0 80, F0 80); a
    // surrogate (ED A0); beyond U+10FFFF (F4 90, F5): each byte that cannot
    // start or continue a sequence is its own U+FFFD (Unicode 3.9)
    CHECK(lt::json_string("\x80") == "\"" + fffd + "\"");
    CHECK(lt::json_string("\xC0\xAF") == "\"" + fffd + fffd + "\"");
    CHECK(lt::json_string("\xE0\x80\x80") == "\"" + fffd + fffd + fffd + "\"");
    CHECK(lt::json_string("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");
    CHECK(lt::json_string("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");
    CHECK(lt::json_string("\xF5") == "\"" + fffd + "\"");
    // a truncated sequence is one U+FFFD for its maximal valid prefix
    CHECK(lt::json_string("\xE2\x82") == "\"" + fffd + "\"");
    CHECK(lt::json_string("\xE2\x82z") == "\"" + fffd + "z\"");
    CHECK(lt::json_string("\xF0\x9F\x98") == "\"" + fffd + "\"");
    CHECK(lt::json_string("a\xF0\x9F\x98\xC3\xA9") == "\"a" + fffd + "\xC3\xA9\"");
}
