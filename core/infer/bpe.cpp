#include "core/infer/bpe.h"

#include <queue>

#include "core/infer/unicode.h"

namespace qb {
namespace {

struct ByteAlphabet {
    std::array<std::string, 256> chars;
    std::unordered_map<uint32_t, uint8_t> byte_of_codepoint;

    ByteAlphabet() {
        const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
        uint32_t next_substitute = 0x100;
        for (int b = 0; b < 256; ++b) {
            const uint32_t codepoint = printable(b) ? uint32_t(b) : next_substitute++;
            unicode::append_utf8(chars[b], codepoint);
            byte_of_codepoint[codepoint] = uint8_t(b);
        }
    }
};

const ByteAlphabet& alphabet() {
    static const ByteAlphabet instance;
    return instance;
}

struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
};

struct Candidate {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    int32_t result;
};

struct LowerPriority {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

const std::string& byte_level_char(uint8_t byte) { return alphabet().chars[byte]; }

std::string byte_level_encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) out += byte_level_char(uint8_t(c));
    return out;
}

std::string byte_level_decode(std::string_view piece) {
    std::string out;
    out.reserve(piece.size());
    for (size_t offset = 0; offset < piece.size();) {
        const auto c = unicode::decode_utf8(piece, offset);
        const auto& map = alphabet().byte_of_codepoint;
        if (auto it = map.find(c.codepoint); c.valid && it != map.end()) out += char(it->second);
        else out.append(piece.substr(offset, c.length));
        offset += c.length;
    }
    return out;
}

BpeEncoder::BpeEncoder(const Vocabulary& vocab, const PieceIndex& index) : vocab_(vocab), index_(index) {
    for (int b = 0; b < 256; ++b) byte_tokens_[b] = index_.find(byte_level_char(uint8_t(b)));
    merges_.reserve(vocab_.merges.size());
    for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
        const auto& [left, right] = vocab_.merges[rank];
        const int32_t left_id = index_.find(left), right_id = index_.find(right), result = index_.find(left + right);
        if (left_id < 0 || right_id < 0 || result < 0) continue;
        merges_.try_emplace(pair_key(left_id, right_id), Merge{int32_t(rank), result});  // first rule wins
    }
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (vocab_.ignore_merges) {
        if (const int32_t id = index_.find(byte_level_encode(word)); id >= 0) {
            out.push_back(id);
            return;
        }
    }
    std::vector<Symbol> symbols(word.size());
    for (size_t i = 0; i < word.size(); ++i)
        symbols[i] = {byte_tokens_[uint8_t(word[i])], int32_t(i) - 1, int32_t(i) + 1};
    symbols.back().next = -1;

    std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
    const auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const int32_t left_id = symbols[left].id, right_id = symbols[right].id;
        if (left_id < 0 || right_id < 0) return;
        if (auto it = merges_.find(pair_key(left_id, right_id)); it != merges_.end())
            queue.push({it->second.rank, left, right, left_id, right_id, it->second.result});
    };
    for (int32_t i = 1; i < int32_t(symbols.size()); ++i) consider(i - 1, i);

    while (!queue.empty()) {
        const Candidate best = queue.top();
        queue.pop();
        Symbol& left = symbols[best.left];
        Symbol& right = symbols[best.right];
        // Stale when either side has merged since (ids only ever change by merging, and dead symbols get id -1).
        if (left.id != best.left_id || right.id != best.right_id || left.next != best.right) continue;
        left.id = best.result;
        right.id = -1;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = best.left;
        consider(left.prev, best.left);
        consider(best.left, left.next);
    }

    for (int32_t i = 0; i != -1; i = symbols[i].next)
        if (symbols[i].id >= 0) out.push_back(symbols[i].id);
}

}  // namespace qb
