// The vocabulary shared by the tokenizer algorithms: pieces with scores and types, BPE merge rules,
// special token ids and the text conventions a file declares. Loaders fill it; Tokenizer consumes it.
// PieceIndex maps piece text to id without allocating (string_view lookups).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace qb {

// Numbering shared by SentencePiece's ModelProto and GGUF's tokenizer.ggml.token_type.
enum class TokenType : uint8_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

enum class TokenizerAlgorithm {
    SentencePiece,  // merges by piece score over UTF-8 characters, byte fallback, U+2581 for spaces (llama.cpp "llama")
    ByteLevelBpe,   // GPT-2 byte-to-unicode alphabet, merge ranks, regex-style pre-tokenizer (llama.cpp "gpt2")
    Unigram,        // SentencePiece unigram: Viterbi segmentation maximising the sum of piece scores (llama.cpp "t5")
};

// How byte-level BPE text is cut into words before merging (llama.cpp tokenizer.ggml.pre families).
enum class PreTokenizer {
    Gpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Llama3,  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    Qwen2,   // as Llama3 but \p{N} (single digits)
};

struct Vocabulary {
    TokenizerAlgorithm algorithm = TokenizerAlgorithm::SentencePiece;
    std::vector<std::string> pieces;  // token text as stored (U+2581 for spaces, or the byte-level alphabet)
    std::vector<float> scores;        // SentencePiece merge priority / unigram log-probability, one per piece (empty for BPE)
    std::vector<TokenType> types;     // one per piece
    std::vector<std::pair<std::string, std::string>> merges;  // BPE merge rules, highest priority first
    int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;  // -1: none
    bool add_bos = false;                   // whether encode() adds BOS by default
    bool add_space_prefix = false;          // SentencePiece add_dummy_prefix
    bool remove_extra_whitespaces = false;  // SentencePiece normalizer flag, applied only on request (always for Unigram)
    std::string precompiled_charsmap;       // SentencePiece normalizer rules (Unigram only; empty: identity)
    PreTokenizer pre_tokenizer = PreTokenizer::Gpt2;
    bool ignore_merges = false;  // BPE: a word that is itself a piece is emitted whole (Llama 3)
    std::string source;          // file it came from, for error messages

    int32_t size() const { return int32_t(pieces.size()); }
    // Throws Error(source, ...) when the parallel arrays disagree or a special id is out of range, and for a
    // Unigram vocabulary without exactly one unknown piece or with an empty or repeated piece.
    void validate() const;

private:
    void validate_unigram() const;
};

// SentencePiece spells ' ' as U+2581 and a byte-fallback token as "<0xXX>".
std::string spaces_to_sentencepiece(std::string_view text);
std::string sentencepiece_to_spaces(std::string_view piece);
std::string byte_piece_spelling(uint8_t byte);
std::optional<uint8_t> byte_piece_value(std::string_view piece);  // nullopt unless spelled "<0xXX>"

class PieceIndex {
public:
    explicit PieceIndex(const std::vector<std::string>& pieces);  // a repeated piece maps to its last id
    int32_t find(std::string_view piece) const {  // -1 when absent
        auto it = ids_.find(piece);
        return it == ids_.end() ? -1 : it->second;
    }
    size_t longest_piece_bytes() const { return longest_; }

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
    size_t longest_ = 0;
};

}  // namespace qb
