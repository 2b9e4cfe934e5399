#include "core/infer/unigram.h"

#include <algorithm>
#include <cfloat>

#include "core/infer/unicode.h"

namespace qb {
namespace {

constexpr float kUnknownPenalty = 10.0f;  // unigram_model.h kUnkPenalty

}  // namespace

UnigramEncoder::UnigramEncoder(const Vocabulary& vocab) {
    // SentencePiece starts from FLT_MAX / FLT_MIN (the smallest positive float, not the lowest).
    float min_score = FLT_MAX, max_score = FLT_MIN;
    for (int32_t id = 0; id < vocab.size(); ++id) {
        if (vocab.types[id] != TokenType::Normal) continue;
        min_score = std::min(min_score, vocab.scores[id]);
        max_score = std::max(max_score, vocab.scores[id]);
    }
    unknown_score_ = min_score - kUnknownPenalty;

    std::vector<std::pair<std::string_view, int32_t>> keys;
    match_scores_.assign(size_t(vocab.size()), 0.0);
    for (int32_t id = 0; id < vocab.size(); ++id) {
        const std::string& piece = vocab.pieces[id];
        switch (vocab.types[id]) {
            case TokenType::Normal:
                match_scores_[id] = vocab.scores[id];
                keys.emplace_back(piece, id);
                break;
            case TokenType::UserDefined:
                // length * max_score_ - 0.1 in unigram_model.cc: a float product, then double arithmetic.
                match_scores_[id] = double(float(piece.size()) * max_score) - 0.1;
                keys.emplace_back(piece, id);
                break;
            case TokenType::Unknown: unknown_id_ = id; break;
            case TokenType::Byte: byte_fallback_ = true; break;
            case TokenType::Control:
            case TokenType::Unused: break;
        }
    }
    trie_ = PieceTrie(keys);
    byte_ids_.fill(unknown_id_);
    for (int32_t id = 0; id < vocab.size(); ++id)
        if (vocab.types[id] == TokenType::Byte)
            if (const auto byte = byte_piece_value(vocab.pieces[id]); byte && byte_ids_[*byte] == unknown_id_)
                byte_ids_[*byte] = id;
}

void UnigramEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    struct BestPath {
        float score = 0.0f;   // of the best path ending here
        int32_t start = -1;   // where its last piece starts, -1: no path yet
        int32_t id = -1;      // its last piece
    };
    const size_t size = text.size();
    std::vector<BestPath> best(size + 1);
    for (size_t start = 0; start < size;) {
        const float score_here = best[start].score;
        const size_t char_length = std::min(unicode::utf8_length_from_lead_byte(uint8_t(text[start])), size - start);
        bool char_is_a_piece = false;
        trie_.for_each_prefix(text.substr(start), [&](size_t length, int32_t id) {
            BestPath& end = best[start + length];
            const double candidate = match_scores_[size_t(id)] + score_here;
            if (end.start < 0 || candidate > end.score) end = {float(candidate), int32_t(start), id};
            if (length == char_length) char_is_a_piece = true;
        });
        if (!char_is_a_piece) {
            BestPath& end = best[start + char_length];
            const float candidate = unknown_score_ + score_here;
            if (end.start < 0 || candidate > end.score) end = {candidate, int32_t(start), unknown_id_};
        }
        start += char_length;
    }

    // Walk back from the end, then emit in text order.
    std::vector<std::pair<int32_t, int32_t>> path;  // (start, id)
    for (int32_t end = int32_t(size); end > 0; end = best[size_t(end)].start) path.emplace_back(best[size_t(end)].start, best[size_t(end)].id);
    out.reserve(out.size() + path.size());
    bool previous_unknown = false;
    for (size_t k = path.size(); k-- > 0;) {
        const auto [start, id] = path[k];
        const bool unknown = id == unknown_id_;
        if (unknown && byte_fallback_) {
            const int32_t end = k > 0 ? path[k - 1].first : int32_t(size);
            for (int32_t i = start; i < end; ++i) out.push_back(byte_ids_[uint8_t(text[size_t(i)])]);
        } else if (!(unknown && previous_unknown)) {
            out.push_back(id);
        }
        previous_unknown = unknown;
    }
}

}  // namespace qb
