// libFuzzer target: the tokenizer.ggml.* metadata of a GGUF file (llama, gpt2 and t5 vocabularies, merges,
// special ids, flags, precompiled charsmap), then encoding and decoding with the tokenizer it gives.
#include "core/infer/tokenizer_loaders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = qbfuzz::write_file("vocab.gguf", {data, size});
    qbfuzz::expect_errors_only([&] { qbfuzz::exercise_tokenizer(qb::load_tokenizer_from_gguf(path)); });
    return 0;
}
