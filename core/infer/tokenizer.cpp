#include "core/infer/tokenizer.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "core/infer/bpe.h"
#include "core/infer/bpe_pretokenizer.h"
#include "core/infer/sentencepiece.h"
#include "core/infer/sentencepiece_normalizer.h"
#include "core/infer/unigram.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

std::string render_piece(const Vocabulary& vocab, int32_t id) {
    const std::string& piece = vocab.pieces[id];
    switch (vocab.types[id]) {
        case TokenType::Byte:
            if (const auto byte = byte_piece_value(piece)) return std::string(1, char(*byte));
            return piece;
        case TokenType::Control:
        case TokenType::Unknown:
        case TokenType::UserDefined:
            return piece;
        case TokenType::Normal:
        case TokenType::Unused:
            break;
    }
    if (vocab.algorithm == TokenizerAlgorithm::ByteLevelBpe) return byte_level_decode(piece);
    return sentencepiece_to_spaces(piece);
}

// SentencePiece's remove_extra_whitespaces: no leading or trailing ' ', no run of more than one.
std::string collapse_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text)
        if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

struct Fragment {
    std::string_view text;
    int32_t token = -1;  // >= 0: a special token matched in the text
};

}  // namespace

struct Tokenizer::Impl {
    Vocabulary vocab;
    PieceIndex index;
    std::optional<SentencePieceEncoder> sentencepiece;
    std::optional<BpeEncoder> bpe;
    std::optional<SentencePieceNormalizer> normalizer;  // unigram
    std::optional<UnigramEncoder> unigram;
    std::vector<std::string> rendered;          // token_to_piece
    std::vector<int32_t> user_defined;          // matched in text always, longest first
    std::vector<int32_t> parseable_specials;    // + control and unknown, for parse_special, longest first

    static Vocabulary validated(Vocabulary v) {
        v.validate();
        return v;
    }

    explicit Impl(Vocabulary v) : vocab(validated(std::move(v))), index(vocab.pieces) {
        switch (vocab.algorithm) {
            case TokenizerAlgorithm::SentencePiece: sentencepiece.emplace(vocab, index); break;
            case TokenizerAlgorithm::ByteLevelBpe: bpe.emplace(vocab, index); break;
            case TokenizerAlgorithm::Unigram:
                normalizer.emplace(vocab);
                unigram.emplace(vocab);
                break;
        }
        // Unigram matches user-defined pieces itself, as SentencePiece does (they never cut the text).
        const bool cut_at_user_defined = vocab.algorithm != TokenizerAlgorithm::Unigram;
        rendered.reserve(vocab.pieces.size());
        for (int32_t id = 0; id < vocab.size(); ++id) {
            rendered.push_back(render_piece(vocab, id));
            const TokenType type = vocab.types[id];
            if (vocab.pieces[id].empty()) continue;
            if (type == TokenType::UserDefined && cut_at_user_defined) user_defined.push_back(id);
            if ((type == TokenType::UserDefined && cut_at_user_defined) || type == TokenType::Control ||
                type == TokenType::Unknown)
                parseable_specials.push_back(id);
        }
        const auto longer = [&](int32_t a, int32_t b) { return vocab.pieces[a].size() > vocab.pieces[b].size(); };
        std::stable_sort(user_defined.begin(), user_defined.end(), longer);
        std::stable_sort(parseable_specials.begin(), parseable_specials.end(), longer);
    }

    // Like llama.cpp: each special, longest first, cuts every remaining text fragment at its occurrences.
    std::vector<Fragment> split_specials(std::string_view text, bool parse_special) const {
        std::vector<Fragment> fragments;
        if (!text.empty()) fragments.push_back({text});  // an empty text gets no dummy prefix either
        for (const int32_t id : parse_special ? parseable_specials : user_defined) {
            const std::string& piece = vocab.pieces[id];
            std::vector<Fragment> next;
            next.reserve(fragments.size());
            for (const Fragment& f : fragments) {
                if (f.token >= 0) {
                    next.push_back(f);
                    continue;
                }
                size_t begin = 0;
                for (size_t hit; (hit = f.text.find(piece, begin)) != std::string_view::npos; begin = hit + piece.size()) {
                    if (hit > begin) next.push_back({f.text.substr(begin, hit - begin)});
                    next.push_back({{}, id});
                }
                if (begin < f.text.size()) next.push_back({f.text.substr(begin)});
            }
            fragments.swap(next);
        }
        return fragments;
    }

    void check_id(int32_t id) const {
        if (id < 0 || id >= vocab.size())
            throw Error(vocab.source, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                          std::to_string(vocab.size()) + " pieces");
    }

    void encode_sentencepiece(std::string_view text, bool at_word_start, bool collapse, std::vector<int32_t>& out) const {
        std::string normalized = collapse ? collapse_spaces(text) : std::string(text);
        if (normalized.empty()) return;
        if (vocab.add_space_prefix && at_word_start) normalized.insert(0, 1, ' ');
        sentencepiece->encode(spaces_to_sentencepiece(normalized), out);
    }

    void encode_unigram(std::string_view text, bool at_word_start, std::vector<int32_t>& out) const {
        unigram->encode(normalizer->normalize(text, at_word_start), out);
    }

    // Words repeat a lot in real text: a word seen before in this call copies its earlier ids from `out`.
    using WordCache = std::unordered_map<std::string_view, std::pair<size_t, size_t>>;

    void encode_bpe(std::string_view text, WordCache& cache, std::vector<int32_t>& out) const {
        for (const std::string_view word : pre_tokenize(vocab.pre_tokenizer, text)) {
            if (auto it = cache.find(word); it != cache.end()) {
                const auto [first, count] = it->second;
                out.reserve(out.size() + count);
                for (size_t i = 0; i < count; ++i) out.push_back(out[first + i]);
                continue;
            }
            const size_t first = out.size();
            bpe->encode_word(word, out);
            cache.emplace(word, std::pair{first, out.size() - first});
        }
    }
};

Tokenizer::Tokenizer(Vocabulary vocabulary) : impl_(std::make_shared<const Impl>(std::move(vocabulary))) {}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    const Impl& impl = *impl_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos) {
        if (impl.vocab.bos_id < 0) throw Error(impl.vocab.source, "cannot add BOS: the tokenizer has no BOS token");
        out.push_back(impl.vocab.bos_id);
    }
    const bool collapse = remove_extra_whitespaces_ && impl.vocab.remove_extra_whitespaces;
    Impl::WordCache cache;
    bool after_special = true;  // the dummy prefix goes at the start and after every special token
    for (const Fragment& fragment : impl.split_specials(text, parse_special)) {
        if (fragment.token >= 0) {
            out.push_back(fragment.token);
            after_special = true;
            continue;
        }
        if (impl.sentencepiece) impl.encode_sentencepiece(fragment.text, after_special, collapse, out);
        else if (impl.unigram) impl.encode_unigram(fragment.text, after_special, out);
        else impl.encode_bpe(fragment.text, cache, out);
        after_special = false;
    }
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    const Impl& impl = *impl_;
    std::string text;
    bool strip_space = impl.vocab.add_space_prefix;
    for (const int32_t id : ids) {
        impl.check_id(id);
        const TokenType type = impl.vocab.types[id];
        if (type == TokenType::Control || type == TokenType::Unused) continue;
        std::string_view piece = type == TokenType::Unknown ? kReplacementCharacter : impl.rendered[id];
        if (strip_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        strip_space = false;
        text += piece;
    }
    return text;
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
    impl_->check_id(id);
    return impl_->rendered[id];
}

Tokenizer Tokenizer::with_sentencepiece_whitespace() const {
    Tokenizer copy = *this;
    copy.remove_extra_whitespaces_ = true;
    return copy;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab.size(); }
int32_t Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->vocab.eos_id; }
int32_t Tokenizer::unk_id() const { return impl_->vocab.unk_id; }
int32_t Tokenizer::pad_id() const { return impl_->vocab.pad_id; }
bool Tokenizer::add_bos_default() const { return impl_->vocab.add_bos; }
TokenizerAlgorithm Tokenizer::algorithm() const { return impl_->vocab.algorithm; }
const Vocabulary& Tokenizer::vocabulary() const { return impl_->vocab; }

}  // namespace qb
