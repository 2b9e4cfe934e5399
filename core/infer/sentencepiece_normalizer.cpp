#include "core/infer/sentencepiece_normalizer.h"

#include <cstring>

#include "core/infer/unicode.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// darts-clone's unit layout (darts.h, DoubleArrayUnit).
bool unit_has_leaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
uint32_t unit_value(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t unit_label(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
uint32_t unit_offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

}  // namespace

SentencePieceNormalizer::SentencePieceNormalizer(const Vocabulary& vocab)
    : add_space_prefix_(vocab.add_space_prefix), remove_extra_whitespaces_(vocab.remove_extra_whitespaces) {
    std::vector<std::pair<std::string_view, int32_t>> symbols;
    for (int32_t id = 0; id < vocab.size(); ++id)
        if (vocab.types[id] == TokenType::UserDefined && !vocab.pieces[id].empty()) symbols.emplace_back(vocab.pieces[id], id);
    has_user_defined_ = !symbols.empty();
    if (has_user_defined_) user_defined_ = PieceTrie(symbols);
    copies_ascii_ = !has_user_defined_ && vocab.precompiled_charsmap.empty();

    // <trie size: uint32 little-endian><double array: trie size bytes><NUL-terminated replacements>
    const std::string& blob = vocab.precompiled_charsmap;
    if (blob.empty()) return;
    const auto malformed = [&](const std::string& why) {
        throw Error(vocab.source, "malformed SentencePiece precompiled_charsmap (" + std::to_string(blob.size()) +
                                      " bytes): " + why);
    };
    if (blob.size() < 4) malformed("shorter than its 4-byte header");
    uint32_t trie_bytes = 0;
    for (int i = 3; i >= 0; --i) trie_bytes = (trie_bytes << 8) | uint8_t(blob[size_t(i)]);
    if (trie_bytes > blob.size() - 4)
        malformed("its trie of " + std::to_string(trie_bytes) + " bytes does not fit");
    if (trie_bytes % 4 != 0 || trie_bytes == 0)
        malformed("its trie size " + std::to_string(trie_bytes) + " is not a whole number of 4-byte units");
    charsmap_units_.resize(trie_bytes / 4);
    for (size_t u = 0; u < charsmap_units_.size(); ++u) {
        uint32_t unit = 0;
        for (int i = 3; i >= 0; --i) unit = (unit << 8) | uint8_t(blob[4 + 4 * u + size_t(i)]);
        charsmap_units_[u] = unit;
    }
    charsmap_strings_ = blob.substr(4 + trie_bytes);
}

// darts-clone commonPrefixSearch, keeping the longest match; out-of-range units end the search.
std::pair<std::string_view, size_t> SentencePieceNormalizer::charsmap_rule(std::string_view text) const {
    const auto& units = charsmap_units_;
    size_t longest = 0;
    uint32_t value = 0;
    uint32_t node = unit_offset(units[0]);
    for (size_t i = 0; i < text.size(); ++i) {
        const uint8_t byte = uint8_t(text[i]);
        node ^= byte;
        if (node >= units.size()) break;
        const uint32_t unit = units[node];
        if (unit_label(unit) != byte) break;
        node ^= unit_offset(unit);
        if (node >= units.size()) break;
        if (unit_has_leaf(unit)) {
            longest = i + 1;
            value = unit_value(units[node]);
        }
    }
    if (longest == 0 || value >= charsmap_strings_.size()) return {{}, 0};
    const char* replacement = charsmap_strings_.data() + value;
    return {std::string_view(replacement, strnlen(replacement, charsmap_strings_.size() - value)), longest};
}

std::pair<std::string_view, size_t> SentencePieceNormalizer::normalize_prefix(std::string_view text) const {
    if (copies_ascii_ && uint8_t(text[0]) < 0x80) return {text.substr(0, 1), 1};
    if (has_user_defined_)
        if (const size_t length = user_defined_.longest_prefix(text); length > 0) return {text.substr(0, length), length};
    if (!charsmap_units_.empty())
        if (const auto rule = charsmap_rule(text); rule.second > 0) return rule;
    const unicode::DecodedChar c = unicode::decode_utf8(text, 0);
    if (!c.valid) return {kReplacement, 1};
    return {text.substr(0, c.length), c.length};
}

std::string SentencePieceNormalizer::normalize(std::string_view text, bool add_dummy_prefix) const {
    std::string out;
    if (remove_extra_whitespaces_) {  // leading spaces (after normalization) go
        while (!text.empty()) {
            const auto [replacement, consumed] = normalize_prefix(text);
            if (replacement != " ") break;
            text.remove_prefix(consumed);
        }
    }
    if (text.empty()) return out;
    out.reserve(text.size() + text.size() / 2 + kSpaceMark.size());
    if (add_dummy_prefix && add_space_prefix_) out += kSpaceMark;
    bool previous_is_space = remove_extra_whitespaces_;
    while (!text.empty()) {
        auto [replacement, consumed] = normalize_prefix(text);
        text.remove_prefix(consumed);
        while (previous_is_space && replacement.starts_with(' ')) replacement.remove_prefix(1);
        if (!replacement.empty()) {
            for (char c : replacement) {
                if (c == ' ') out += kSpaceMark;
                else out += c;
            }
            previous_is_space = replacement.back() == ' ';
        }
        if (!remove_extra_whitespaces_) previous_is_space = false;
    }
    if (remove_extra_whitespaces_)
        while (out.ends_with(kSpaceMark)) out.resize(out.size() - kSpaceMark.size());
    return out;
}

}  // namespace qb
