// libFuzzer target: SentencePiece tokenizer.model parsing (BPE and unigram, normalizer spec and precompiled
// charsmap), then encoding and decoding with the tokenizer it gives (BPE merges, unigram Viterbi, byte fallback).
#include "core/infer/tokenizer_loaders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = qbfuzz::write_file("tokenizer.model", {data, size});
    qbfuzz::expect_errors_only([&] { qbfuzz::exercise_tokenizer(qb::load_tokenizer_from_sentencepiece_model(path)); });
    return 0;
}
