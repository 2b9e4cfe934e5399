// Cuts text into the words that byte-level BPE merges within. Each PreTokenizer regex (see tokenizer_vocab.h)
// is reproduced by a hand-written scanner over code points, rule for rule like llama.cpp's unicode.cpp, since
// std::regex has no \p{L}/\p{N}. The words cover the text exactly, in order, without gaps or overlaps.
#pragma once
#include <string_view>
#include <vector>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

std::vector<std::string_view> pre_tokenize(PreTokenizer pre_tokenizer, std::string_view text);

}  // namespace qb
