// Reads a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) into a Vocabulary, with a
// small protobuf wire-format parser instead of a protobuf dependency. Used: pieces (piece, score, type),
// trainer_spec (model_type, byte_fallback, unk/bos/eos/pad ids, treat_whitespace_as_suffix) and
// normalizer_spec (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces). Only BPE models are
// accepted (unigram needs a different algorithm); any malformed or truncated input throws Error(file, ...).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

Vocabulary read_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& file);

}  // namespace qb
