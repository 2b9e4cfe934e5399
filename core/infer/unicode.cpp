#include "core/infer/unicode.h"

#include <algorithm>
#include <array>

namespace qb::unicode {
namespace {

// The Unicode White_Space property (PropList.txt), which is what \s means in the regex engines of
// Hugging Face tokenizers and in llama.cpp. Python's str.isspace() differs (it includes U+001C..U+001F).
bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

CharClass table_class(uint32_t c) {
    const auto ranges = letter_and_number_ranges();
    auto it = std::upper_bound(ranges.begin(), ranges.end(), c,
                               [](uint32_t value, const CodepointRange& r) { return value < r.first; });
    if (it == ranges.begin()) return CharClass::Other;
    --it;
    return c <= it->last ? it->char_class : CharClass::Other;
}

const std::array<CharClass, 128>& ascii_classes() {
    static const std::array<CharClass, 128> table = [] {
        std::array<CharClass, 128> t{};
        for (uint32_t c = 0; c < 128; ++c) t[c] = is_white_space(c) ? CharClass::Whitespace : table_class(c);
        return t;
    }();
    return table;
}

}  // namespace

CharClass char_class(uint32_t codepoint) {
    if (codepoint < 128) return ascii_classes()[codepoint];
    if (is_white_space(codepoint)) return CharClass::Whitespace;
    return table_class(codepoint);
}

DecodedChar decode_utf8(std::string_view text, size_t offset) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[offset + i]); };
    const uint8_t lead = byte(0);
    if (lead < 0x80) return {lead, 1, true};
    const DecodedChar invalid{kReplacementCharacter, 1, false};
    uint32_t length = 0, codepoint = 0, minimum = 0;
    if ((lead & 0xE0) == 0xC0) length = 2, codepoint = lead & 0x1F, minimum = 0x80;
    else if ((lead & 0xF0) == 0xE0) length = 3, codepoint = lead & 0x0F, minimum = 0x800;
    else if ((lead & 0xF8) == 0xF0) length = 4, codepoint = lead & 0x07, minimum = 0x10000;
    else return invalid;
    if (offset + length > text.size()) return invalid;
    for (uint32_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return invalid;
        codepoint = (codepoint << 6) | (byte(i) & 0x3F);
    }
    if (codepoint < minimum || codepoint > 0x10FFFF || (codepoint >= 0xD800 && codepoint <= 0xDFFF)) return invalid;
    return {codepoint, length, true};
}

void append_utf8(std::string& out, uint32_t c) {
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
}

}  // namespace qb::unicode
