// SentencePiece BPE encoding as llama.cpp's "llama" (SPM) tokenizer does it: the text is cut into UTF-8
// characters, then the adjacent pair whose concatenation is the highest-scoring piece is merged until no pair
// forms a piece (ties: leftmost pair first). Characters that end up without a piece become <0xXX> byte tokens.
// Whitespace escaping (' ' -> U+2581) and the dummy prefix are the caller's job (see Tokenizer).
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

class SentencePieceEncoder {
public:
    // Keeps references: vocab and index must outlive the encoder.
    SentencePieceEncoder(const Vocabulary& vocab, const PieceIndex& index);
    // Appends the ids of `text` (already escaped) to `out`. Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

private:
    struct Symbol;
    int32_t character_id(std::string_view character) const;
    int32_t joined_id(std::string_view text, const Symbol& left, const Symbol& right) const;
    void merge_and_emit(std::string_view text, std::vector<Symbol>& symbols, int32_t first, int32_t last,
                        std::vector<int32_t>& out) const;
    void append_bytes(std::string_view piece, std::vector<int32_t>& out) const;

    const Vocabulary& vocab_;
    const PieceIndex& index_;
    std::array<int32_t, 256> byte_tokens_{};  // <0xXX> piece per byte (or the byte itself as a piece), else UNK
    std::array<int32_t, 128> ascii_ids_{};    // piece of each one-byte character, -1 if none
    // (left id, right id) -> id of the piece spelled by their concatenation, for every way to cut every piece
    // in two pieces: merge candidates become integer lookups instead of string hashing.
    std::unordered_map<uint64_t, int32_t> joins_;
    bool newline_splits_text_ = false;  // no multi-character piece contains '\n'
};

}  // namespace qb
