// libFuzzer target: llama2.c tok*.bin parsing, then encoding and decoding with the tokenizer it gives.
#include "core/infer/tokenizer_loaders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = qbfuzz::write_file("tok.bin", {data, size});
    qbfuzz::expect_errors_only([&] { qbfuzz::exercise_tokenizer(qb::load_tokenizer_from_llama2c(path)); });
    return 0;
}
