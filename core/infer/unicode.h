// UTF-8 decoding and the character classes the BPE pre-tokenizers need: \p{L}, \p{N} and \s (White_Space).
// Decoding never fails: a byte that does not start a valid UTF-8 sequence becomes a one-byte character of
// class Other, so callers can split any byte string without losing or altering bytes.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace qb::unicode {

enum class CharClass : uint8_t { Other, Letter, Number, Whitespace };

struct CodepointRange {
    uint32_t first;
    uint32_t last;
    CharClass char_class;
};

struct DecodedChar {
    uint32_t codepoint;  // U+FFFD for an invalid sequence
    uint32_t length;     // bytes consumed, >= 1
    bool valid;
};

constexpr uint32_t kReplacementCharacter = 0xFFFD;

DecodedChar decode_utf8(std::string_view text, size_t offset);
void append_utf8(std::string& out, uint32_t codepoint);
// Length of the UTF-8 sequence announced by a lead byte, judged by its top nibble only (continuation and
// invalid bytes count as 1), as SentencePiece and llama.cpp split text into characters.
inline size_t utf8_length_from_lead_byte(uint8_t lead) {
    static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLengths[lead >> 4];
}

CharClass char_class(uint32_t codepoint);
inline CharClass char_class(const DecodedChar& c) { return c.valid ? char_class(c.codepoint) : CharClass::Other; }

// Sorted, disjoint letter/number ranges (generated table, see unicode_tables.cpp).
std::span<const CodepointRange> letter_and_number_ranges();

}  // namespace qb::unicode
