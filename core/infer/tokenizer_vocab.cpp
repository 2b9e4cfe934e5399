#include "core/infer/tokenizer_vocab.h"

#include "core/util/error.h"

namespace qb {

void Vocabulary::validate() const {
    if (pieces.empty()) throw Error(source, "tokenizer vocabulary is empty");
    if (types.size() != pieces.size())
        throw Error(source, "tokenizer has " + std::to_string(pieces.size()) + " pieces but " +
                                std::to_string(types.size()) + " token types");
    if (algorithm == TokenizerAlgorithm::SentencePiece && scores.size() != pieces.size())
        throw Error(source, "tokenizer has " + std::to_string(pieces.size()) + " pieces but " +
                                std::to_string(scores.size()) + " scores");
    const std::pair<const char*, int32_t> specials[] = {{"BOS", bos_id}, {"EOS", eos_id}, {"UNK", unk_id}, {"PAD", pad_id}};
    for (const auto& [name, id] : specials)
        if (id < -1 || id >= size())
            throw Error(source, std::string(name) + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                                    std::to_string(size()) + " pieces");
    if (add_bos && bos_id < 0) throw Error(source, "tokenizer asks to add BOS but has no BOS token");
}

PieceIndex::PieceIndex(const std::vector<std::string>& pieces) {
    ids_.reserve(pieces.size());
    for (size_t id = 0; id < pieces.size(); ++id) {
        ids_.insert_or_assign(pieces[id], int32_t(id));
        longest_ = std::max(longest_, pieces[id].size());
    }
}

}  // namespace qb
