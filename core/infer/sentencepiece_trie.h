// PieceTrie: a double-array trie over byte strings (SentencePiece pieces, user-defined symbols), built once,
// walked one byte per step with two array reads and no allocation. for_each_prefix(text) reports every key
// that is a prefix of text, shortest first, in O(length of the longest match): the unigram Viterbi search and
// SentencePiece's longest-match rules are built on it.
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace qb {

class PieceTrie {
public:
    PieceTrie();  // empty: matches nothing
    // Keys are non-empty byte strings with values >= 0; a repeated key keeps the value it has first.
    explicit PieceTrie(const std::vector<std::pair<std::string_view, int32_t>>& keys);

    // Calls on_match(length, value) for each key equal to text.substr(0, length), by increasing length.
    template <typename OnMatch>
    void for_each_prefix(std::string_view text, OnMatch&& on_match) const {
        int32_t node = 0;
        for (size_t i = 0; i < text.size(); ++i) {
            const uint32_t next = units_[size_t(node)].base + uint8_t(text[i]);  // in range: padded by 256 units
            if (units_[next].check != node) return;
            node = int32_t(next);
            if (units_[next].value >= 0) on_match(i + 1, units_[next].value);
        }
    }
    // Length of the longest key that is a prefix of text, 0 when none.
    size_t longest_prefix(std::string_view text) const {
        size_t longest = 0;
        for_each_prefix(text, [&](size_t length, int32_t) { longest = length; });
        return longest;
    }
    size_t units() const { return units_.size(); }

private:
    struct Unit {
        uint32_t base = 0;   // children of this unit are at base + byte
        int32_t check = -1;  // the parent unit, -1 for a free unit
        int32_t value = -1;  // the key ending here, -1 for none
    };
    std::vector<Unit> units_;
};

}  // namespace qb
