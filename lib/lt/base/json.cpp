#include "lt/base/json.hpp"

#include <fmt/format.h>

#include <cstddef>

namespace lt {

namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 with `invalid`
// set to the bytes of its maximal invalid subpart (Unicode 3.9, table 3-7).
std::size_t utf8_length(const std::string& text, std::size_t i, std::size_t& invalid) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;       // no overlong forms
        else if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        else if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    }
    invalid = 1;
    if (length == 0) return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if (i + k >= text.size()) return 0;
        const unsigned char next = byte(i + k);
        const bool ok = k == 1 ? next >= low && next <= high : next >= 0x80 && next <= 0xBF;
        if (!ok) return 0;
        invalid = k + 1;
    }
    return length;
}

}  // namespace

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            std::size_t invalid = 0;
            const std::size_t length = utf8_length(text, i, invalid);
            if (length) out.append(text, i, length);
            else out += "\xEF\xBF\xBD";  // U+FFFD
            i += length ? length : invalid;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) out += fmt::format("\\u{:04x}", c);
                else out += static_cast<char>(c);
        }
        ++i;
    }
    return out + "\"";
}

}  // namespace lt
