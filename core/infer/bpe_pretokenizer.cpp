#include "core/infer/bpe_pretokenizer.h"

#include <algorithm>

#include "core/infer/unicode.h"

namespace qb {
namespace {

using unicode::CharClass;

// The text as code points with their classes and byte offsets; positions past the end have no class.
class CodepointText {
public:
    explicit CodepointText(std::string_view text) {
        codepoints_.reserve(text.size());
        classes_.reserve(text.size());
        offsets_.reserve(text.size() + 1);
        for (size_t offset = 0; offset < text.size();) {
            const auto c = unicode::decode_utf8(text, offset);
            codepoints_.push_back(c.codepoint);
            classes_.push_back(unicode::char_class(c));
            offsets_.push_back(uint32_t(offset));
            offset += c.length;
        }
        offsets_.push_back(uint32_t(text.size()));
    }
    size_t size() const { return codepoints_.size(); }
    size_t byte_offset(size_t i) const { return offsets_[i]; }
    uint32_t codepoint(size_t i) const { return i < size() ? codepoints_[i] : kNone; }
    bool is(size_t i, CharClass c) const { return i < size() && classes_[i] == c; }
    bool is_letter(size_t i) const { return is(i, CharClass::Letter); }
    bool is_number(size_t i) const { return is(i, CharClass::Number); }
    bool is_space(size_t i) const { return is(i, CharClass::Whitespace); }
    bool is_other(size_t i) const { return is(i, CharClass::Other); }  // [^\s\p{L}\p{N}]
    bool is_line_break(size_t i) const { return codepoint(i) == '\r' || codepoint(i) == '\n'; }
    size_t run_end(size_t i, CharClass c) const {
        while (is(i, c)) ++i;
        return i;
    }

private:
    static constexpr uint32_t kNone = 0xFFFFFFFF;
    std::vector<uint32_t> codepoints_;
    std::vector<CharClass> classes_;
    std::vector<uint32_t> offsets_;
};

uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when asked, as (?i:...) in Llama 3): the end, or 0.
size_t contraction_end(const CodepointText& t, size_t pos, bool ignore_case) {
    if (t.codepoint(pos) != '\'' || pos + 1 >= t.size()) return 0;
    const auto at = [&](size_t i) { return ignore_case ? ascii_lower(t.codepoint(i)) : t.codepoint(i); };
    const uint32_t a = at(pos + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if (pos + 2 >= t.size()) return 0;
    const uint32_t b = at(pos + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    return 0;
}

// \s+(?!\S)|\s+ : a run of whitespace leaves its last character to the word that follows.
size_t whitespace_end(const CodepointText& t, size_t pos) {
    const size_t end = t.run_end(pos, CharClass::Whitespace);
    if (end - pos > 1 && end < t.size()) return end - 1;
    return std::max(end, pos + 1);
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t gpt2_word_end(const CodepointText& t, size_t pos) {
    if (const size_t end = contraction_end(t, pos, false)) return end;
    const size_t body = pos + (t.codepoint(pos) == ' ');
    for (CharClass c : {CharClass::Letter, CharClass::Number, CharClass::Other})
        if (t.is(body, c)) return t.run_end(body, c);
    return whitespace_end(t, pos);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
size_t llama3_word_end(const CodepointText& t, size_t pos, size_t max_digits) {
    if (const size_t end = contraction_end(t, pos, true)) return end;
    if (!t.is_line_break(pos) && !t.is_number(pos) && (t.is_letter(pos) || t.is_letter(pos + 1)))
        return t.run_end(pos + 1, CharClass::Letter);
    if (t.is_number(pos)) return std::min(t.run_end(pos, CharClass::Number), pos + max_digits);
    const size_t body = pos + (t.codepoint(pos) == ' ');
    if (t.is_other(body)) {
        size_t end = t.run_end(body, CharClass::Other);
        while (t.is_line_break(end)) ++end;
        return end;
    }
    size_t after_last_break = 0;
    for (size_t i = pos; t.is_space(i); ++i)
        if (t.is_line_break(i)) after_last_break = i + 1;
    if (after_last_break) return after_last_break;
    return whitespace_end(t, pos);
}

size_t word_end(PreTokenizer pre_tokenizer, const CodepointText& t, size_t pos) {
    switch (pre_tokenizer) {
        case PreTokenizer::Gpt2: return gpt2_word_end(t, pos);
        case PreTokenizer::Llama3: return llama3_word_end(t, pos, 3);
        case PreTokenizer::Qwen2: return llama3_word_end(t, pos, 1);
    }
    return pos + 1;
}

}  // namespace

std::vector<std::string_view> pre_tokenize(PreTokenizer pre_tokenizer, std::string_view text) {
    const CodepointText t(text);
    std::vector<std::string_view> words;
    words.reserve(t.size() / 4 + 1);
    for (size_t pos = 0; pos < t.size();) {
        const size_t end = word_end(pre_tokenizer, t, pos);
        words.push_back(text.substr(t.byte_offset(pos), t.byte_offset(end) - t.byte_offset(pos)));
        pos = end;
    }
    return words;
}

}  // namespace qb
