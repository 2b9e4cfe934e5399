// Reads a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) into a Vocabulary, with a
// small protobuf wire-format parser instead of a protobuf dependency. Used: pieces (piece, score, type),
// trainer_spec (model_type, unk/bos/eos/pad ids, treat_whitespace_as_suffix) and normalizer_spec
// (precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces). BPE models give a
// SentencePiece vocabulary, unigram models a Unigram one (byte fallback: the model has <0xXX> byte pieces);
// word and char models are refused. Any malformed or truncated input throws Error(file, ...).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/infer/tokenizer_vocab.h"

namespace qb {

Vocabulary read_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& file);

}  // namespace qb
