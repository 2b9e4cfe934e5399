// Builds a Tokenizer from every place a model keeps its vocabulary. Errors name the file and the problem.
// - GGUF metadata: tokenizer.ggml.model "llama" (SentencePiece), "gpt2" (byte-level BPE) or "t5" (SentencePiece
//   unigram), tokens, scores, token_type, merges, pre, special ids, add_bos_token, add_space_prefix,
//   remove_extra_whitespaces, precompiled_charsmap; defaults as llama.cpp's.
//   A missing or "default" pre means the GPT-2 pattern, as Hugging Face's ByteLevel pre-tokenizer.
// - SentencePiece tokenizer.model (see sentencepiece_model.h).
// - Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer (GPT-2 regex, or a Split with the
//   Llama 3 / Qwen2 regex); special ids and add_bos come from tokenizer_config.json beside it when present.
// - llama2.c tok*.bin: int32 max_token_length, then per token f32 score, int32 length, bytes.
#pragma once
#include <filesystem>

#include "core/infer/tokenizer.h"
#include "core/model/model.h"

namespace qb {

class GgufFile;

Tokenizer load_tokenizer(const TokenizerSource& source);  // for GgufMetadata the path is the GGUF file
Tokenizer load_tokenizer_from_gguf(const std::filesystem::path& path);
Tokenizer load_tokenizer_from_gguf(const GgufFile& gguf);
Tokenizer load_tokenizer_from_sentencepiece_model(const std::filesystem::path& path);
Tokenizer load_tokenizer_from_json(const std::filesystem::path& path);
Tokenizer load_tokenizer_from_llama2c(const std::filesystem::path& path);

}  // namespace qb
