#include "core/infer/tokenizer_vocab.h"

#include <cstdio>
#include <unordered_set>

#include "core/util/error.h"

namespace qb {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    size_t begin = 0;
    for (size_t hit; (hit = text.find(from, begin)) != std::string_view::npos; begin = hit + from.size()) {
        out.append(text, begin, hit - begin);
        out.append(to);
    }
    out.append(text, begin);
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

std::string spaces_to_sentencepiece(std::string_view text) { return replace_all(text, " ", kSpaceMark); }

std::string sentencepiece_to_spaces(std::string_view piece) { return replace_all(piece, kSpaceMark, " "); }

std::string byte_piece_spelling(uint8_t byte) {
    char spelling[8];
    std::snprintf(spelling, sizeof spelling, "<0x%02X>", byte);
    return spelling;
}

std::optional<uint8_t> byte_piece_value(std::string_view piece) {
    if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return std::nullopt;
    const int high = hex_digit(piece[3]), low = hex_digit(piece[4]);
    if (high < 0 || low < 0) return std::nullopt;
    return uint8_t(high * 16 + low);
}

void Vocabulary::validate() const {
    if (pieces.empty()) throw Error(source, "tokenizer vocabulary is empty");
    if (types.size() != pieces.size())
        throw Error(source, "tokenizer has " + std::to_string(pieces.size()) + " pieces but " +
                                std::to_string(types.size()) + " token types");
    if (algorithm != TokenizerAlgorithm::ByteLevelBpe && scores.size() != pieces.size())
        throw Error(source, "tokenizer has " + std::to_string(pieces.size()) + " pieces but " +
                                std::to_string(scores.size()) + " scores");
    const std::pair<const char*, int32_t> specials[] = {{"BOS", bos_id}, {"EOS", eos_id}, {"UNK", unk_id}, {"PAD", pad_id}};
    for (const auto& [name, id] : specials)
        if (id < -1 || id >= size())
            throw Error(source, std::string(name) + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                                    std::to_string(size()) + " pieces");
    if (add_bos && bos_id < 0) throw Error(source, "tokenizer asks to add BOS but has no BOS token");
    if (algorithm == TokenizerAlgorithm::Unigram) validate_unigram();
}

// SentencePiece's own checks when it loads a unigram model (model_interface.cc).
void Vocabulary::validate_unigram() const {
    int32_t unknown = -1;
    std::unordered_set<std::string_view> seen[2];  // matchable pieces, reserved pieces (control, unknown, byte)
    for (int32_t id = 0; id < size(); ++id) {
        const std::string& piece = pieces[id];
        const std::string where = "unigram piece " + std::to_string(id);
        if (piece.empty()) throw Error(source, where + " is empty");
        const TokenType type = types[id];
        const bool matchable = type == TokenType::Normal || type == TokenType::UserDefined || type == TokenType::Unused;
        if (!seen[matchable ? 0 : 1].insert(piece).second) throw Error(source, where + " '" + piece + "' is defined twice");
        if (type == TokenType::Unknown) {
            if (unknown >= 0)
                throw Error(source, where + " is a second unknown piece (the first is " + std::to_string(unknown) + ")");
            unknown = id;
        }
    }
    if (unknown < 0) throw Error(source, "unigram vocabulary has no unknown piece (<unk>)");
}

PieceIndex::PieceIndex(const std::vector<std::string>& pieces) {
    ids_.reserve(pieces.size());
    for (size_t id = 0; id < pieces.size(); ++id) {
        ids_.insert_or_assign(pieces[id], int32_t(id));
        longest_ = std::max(longest_, pieces[id].size());
    }
}

}  // namespace qb
