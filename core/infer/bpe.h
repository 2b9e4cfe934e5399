// Byte-level BPE (GPT-2, GPT-NeoX, Llama 3, Qwen2): every byte of a word is spelled as one character of the
// GPT-2 byte-to-unicode alphabet (printable bytes stand for themselves, the rest map to U+0100..), then the
// adjacent pair with the best (lowest) merge rank is merged until no rule applies, ties going to the leftmost
// pair, exactly as llama.cpp and Hugging Face tokenizers do. Pre-tokenization is bpe_pretokenizer.h's job.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

// The byte-level alphabet: the UTF-8 spelling of the character standing for `byte`.
const std::string& byte_level_char(uint8_t byte);
std::string byte_level_encode(std::string_view bytes);
// Inverse of byte_level_encode; a character outside the alphabet is kept as its own UTF-8 bytes.
std::string byte_level_decode(std::string_view piece);

class BpeEncoder {
public:
    // Keeps references: vocab and index must outlive the encoder. Merge rules whose parts or result are not
    // pieces of the vocabulary can never fire and are dropped.
    BpeEncoder(const Vocabulary& vocab, const PieceIndex& index);
    // Appends the ids of one pre-tokenized word (raw bytes). Thread-safe.
    void encode_word(std::string_view word, std::vector<int32_t>& out) const;

private:
    struct Merge {
        int32_t rank;
        int32_t result;
    };
    static uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

    const Vocabulary& vocab_;
    const PieceIndex& index_;
    std::array<int32_t, 256> byte_tokens_{};  // piece of each byte's alphabet character, -1 if missing
    std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace qb
