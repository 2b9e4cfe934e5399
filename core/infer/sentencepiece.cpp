#include "core/infer/sentencepiece.h"

#include <queue>

#include "core/infer/unicode.h"

namespace qb {

struct SentencePieceEncoder::Symbol {
    uint32_t start;
    uint32_t length;  // 0 once merged into its left neighbour
    int32_t id;       // the piece this text is, -1 for a character outside the vocabulary
    int32_t prev;
    int32_t next;
};

namespace {

struct Candidate {
    float score;
    int32_t left;
    int32_t right;
    int32_t id;       // the merged piece
    uint32_t length;  // its bytes; a later mismatch means one side has changed since
};

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

struct LowerPriority {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

SentencePieceEncoder::SentencePieceEncoder(const Vocabulary& vocab, const PieceIndex& index)
    : vocab_(vocab), index_(index) {
    for (int byte = 0; byte < 256; ++byte) {
        const char raw = char(byte);
        int32_t id = index_.find(byte_piece_spelling(uint8_t(byte)));
        if (id < 0) id = index_.find(std::string_view(&raw, 1));
        byte_tokens_[byte] = id >= 0 ? id : vocab_.unk_id;
    }
    for (int c = 0; c < 128; ++c) {
        const char raw = char(c);
        ascii_ids_[c] = index_.find(std::string_view(&raw, 1));
    }
    newline_splits_text_ = true;
    for (int32_t id = 0; id < vocab_.size(); ++id) {
        const std::string_view piece = vocab_.pieces[id];
        if (piece.size() > 1 && piece.find('\n') != std::string_view::npos) newline_splits_text_ = false;
        if (index_.find(piece) != id) continue;  // a repeated spelling: only its last id is ever produced
        for (size_t cut = 1; cut < piece.size(); ++cut) {
            const int32_t left = index_.find(piece.substr(0, cut)), right = index_.find(piece.substr(cut));
            if (left >= 0 && right >= 0) joins_.emplace(pair_key(left, right), id);
        }
    }
}

int32_t SentencePieceEncoder::character_id(std::string_view character) const {
    if (character.size() == 1 && uint8_t(character[0]) < 128) return ascii_ids_[uint8_t(character[0])];
    return index_.find(character);
}

int32_t SentencePieceEncoder::joined_id(std::string_view text, const Symbol& left, const Symbol& right) const {
    if (left.id >= 0 && right.id >= 0) {
        const auto it = joins_.find(pair_key(left.id, right.id));
        return it == joins_.end() ? -1 : it->second;
    }
    // A character outside the vocabulary can still start or end a longer piece.
    return index_.find(text.substr(left.start, left.length + right.length));
}

void SentencePieceEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t offset = 0; offset < text.size();) {
        const size_t length = std::min(unicode::utf8_length_from_lead_byte(uint8_t(text[offset])), text.size() - offset);
        symbols.push_back({uint32_t(offset), uint32_t(length), character_id(text.substr(offset, length)), -1, -1});
        offset += length;
    }
    // When no piece spans a newline, each line merges on its own with the same result and a smaller queue.
    const auto is_newline = [&](const Symbol& s) { return s.length == 1 && text[s.start] == '\n'; };
    int32_t first = 0;
    for (int32_t i = 0; i < int32_t(symbols.size()); ++i) {
        if (!newline_splits_text_ || !is_newline(symbols[i])) continue;
        merge_and_emit(text, symbols, first, i, out);
        merge_and_emit(text, symbols, i, i + 1, out);
        first = i + 1;
    }
    merge_and_emit(text, symbols, first, int32_t(symbols.size()), out);
}

void SentencePieceEncoder::merge_and_emit(std::string_view text, std::vector<Symbol>& symbols, int32_t first,
                                          int32_t last, std::vector<int32_t>& out) const {
    if (first >= last) return;
    for (int32_t i = first; i < last; ++i) {
        symbols[i].prev = i - 1;
        symbols[i].next = i + 1;
    }
    symbols[first].prev = -1;
    symbols[last - 1].next = -1;

    std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
    const size_t longest = index_.longest_piece_bytes();
    const auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t length = symbols[left].length + symbols[right].length;
        if (length > longest) return;
        const int32_t id = joined_id(text, symbols[left], symbols[right]);
        if (id >= 0) queue.push({vocab_.scores[id], left, right, id, length});
    };
    for (int32_t i = first + 1; i < last; ++i) consider(i - 1, i);

    while (!queue.empty()) {
        const Candidate best = queue.top();
        queue.pop();
        Symbol& left = symbols[best.left];
        Symbol& right = symbols[best.right];
        if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) continue;
        left.length += right.length;
        left.id = best.id;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = best.left;
        consider(left.prev, best.left);
        consider(best.left, left.next);
    }

    for (int32_t i = first; i != -1; i = symbols[i].next) {
        if (symbols[i].id >= 0) out.push_back(symbols[i].id);
        else append_bytes(text.substr(symbols[i].start, symbols[i].length), out);
    }
}

void SentencePieceEncoder::append_bytes(std::string_view piece, std::vector<int32_t>& out) const {
    for (char c : piece)
        if (const int32_t id = byte_tokens_[uint8_t(c)]; id >= 0) out.push_back(id);
}

}  // namespace qb
