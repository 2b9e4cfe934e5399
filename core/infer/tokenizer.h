// Tokenizer: text <-> token ids for a Vocabulary, with llama.cpp's behaviour (its tokenizer fixtures pass).
// - encode(text, add_bos): special tokens written in the text are NOT parsed as specials unless asked
//   (llama.cpp's perplexity default); user-defined pieces are always matched whole, as in llama.cpp.
//   SentencePiece vocabularies get the dummy-prefix space at the start and after each special token.
//   Unigram vocabularies are encoded exactly as SentencePiece does (its normalizer, remove_extra_whitespaces
//   included, then unigram.h); user-defined pieces are left to the unigram search, as SentencePiece does.
// - decode(ids): concatenated pieces, control tokens dropped, byte tokens joined into UTF-8, an unknown token
//   shown as U+FFFD and, for SentencePiece, the dummy-prefix space removed again, so decode(encode(x)) == x
//   (for Unigram only when its normalizer keeps x as it is: no charsmap rule or extra space applies).
// Immutable; copies share the same tables; safe to use from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

class Tokenizer {
public:
    explicit Tokenizer(Vocabulary vocabulary);  // throws Error(vocabulary.source, ...) when it is inconsistent

    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const;
    std::vector<int32_t> encode(std::string_view text) const { return encode(text, add_bos_default()); }
    std::string decode(std::span<const int32_t> ids) const;  // throws Error for an id outside the vocabulary
    // The bytes a token stands for: a byte token gives its byte, a control or unknown token its spelling ("<s>").
    const std::string& token_to_piece(int32_t id) const;

    int32_t vocab_size() const;
    int32_t bos_id() const;
    int32_t eos_id() const;
    int32_t unk_id() const;
    int32_t pad_id() const;
    bool add_bos_default() const;
    TokenizerAlgorithm algorithm() const;
    const Vocabulary& vocabulary() const;

    // A tokenizer sharing these tables that also removes leading, trailing and repeated spaces before encoding
    // when the vocabulary asks for it (a tokenizer.model's remove_extra_whitespaces), as SentencePiece itself
    // does. llama.cpp never does, hence it is not the default. (Unigram vocabularies always follow SentencePiece.)
    Tokenizer with_sentencepiece_whitespace() const;

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
    bool remove_extra_whitespaces_ = false;
};

}  // namespace qb
