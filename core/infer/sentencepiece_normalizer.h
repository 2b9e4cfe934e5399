// SentencePiece's text normalizer (normalizer.cc), used for unigram vocabularies. Text is consumed one
// prefix at a time: a user-defined symbol is copied verbatim (longest first), else the longest rule of the
// precompiled charsmap rewrites it, else one UTF-8 character is copied (an invalid byte becomes U+FFFD).
// Then remove_extra_whitespaces drops leading, trailing and repeated spaces, the dummy prefix adds one
// space in front, and every ' ' is written as U+2581.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/infer/sentencepiece_trie.h"
#include "core/infer/tokenizer_vocab.h"

namespace qb {

class SentencePieceNormalizer {
public:
    // Throws Error(vocab.source, ...) when the precompiled charsmap is malformed.
    explicit SentencePieceNormalizer(const Vocabulary& vocab);

    // The normalized, escaped text ("" when it holds nothing but spaces). add_dummy_prefix: whether this
    // text starts a sentence (the vocabulary's add_space_prefix must also be set).
    std::string normalize(std::string_view text, bool add_dummy_prefix) const;

private:
    // The replacement of the text's first characters and how many bytes it replaces (>= 1).
    std::pair<std::string_view, size_t> normalize_prefix(std::string_view text) const;
    std::pair<std::string_view, size_t> charsmap_rule(std::string_view text) const;

    PieceTrie user_defined_;
    bool has_user_defined_ = false;
    bool copies_ascii_ = false;             // no symbol and no rule: an ASCII byte is its own normalization
    std::vector<uint32_t> charsmap_units_;  // darts-clone double array of the charsmap
    std::string charsmap_strings_;          // NUL-terminated replacements the trie values point into
    bool add_space_prefix_ = false;
    bool remove_extra_whitespaces_ = false;
};

}  // namespace qb
