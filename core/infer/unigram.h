// SentencePiece unigram encoding, as unigram_model.cc's EncodeOptimized: over normalized text (see
// SentencePieceNormalizer), the segmentation into pieces with the highest sum of scores, found by a Viterbi
// pass that walks a trie of the pieces from every character start: O(text bytes x longest piece).
// - Normal pieces score their log-probability; a user-defined piece scores length x (highest normal score)
//   - 0.1, so it is practically always taken; unused, control, unknown and byte pieces never match.
// - A character that starts no piece becomes <unk> scored (lowest normal score - 10). Consecutive <unk>s
//   merge into one, or, when the vocabulary has <0xXX> byte pieces, each <unk> becomes its UTF-8 bytes.
// Ties keep the earlier candidate, with SentencePiece's float arithmetic, so ids match it exactly.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/infer/sentencepiece_trie.h"
#include "core/infer/tokenizer_vocab.h"

namespace qb {

class UnigramEncoder {
public:
    explicit UnigramEncoder(const Vocabulary& vocab);  // vocab must have passed Vocabulary::validate()
    // Appends the ids of `normalized` (escaped: U+2581 for spaces) to `out`. Thread-safe.
    void encode(std::string_view normalized, std::vector<int32_t>& out) const;

private:
    PieceTrie trie_;
    std::vector<double> match_scores_;  // per id: the score it adds to a path when the trie matches it
    float unknown_score_ = 0.0f;
    int32_t unknown_id_ = -1;
    bool byte_fallback_ = false;
    std::array<int32_t, 256> byte_ids_{};  // the <0xXX> piece of each byte, else the unknown id
};

}  // namespace qb
