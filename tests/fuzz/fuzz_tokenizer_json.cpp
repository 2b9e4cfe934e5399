// libFuzzer target: Hugging Face tokenizer.json (byte-level BPE) with the tokenizer_config.json beside it,
// then encoding and decoding with the tokenizer it gives. An input is [u32 LE length n][n bytes of
// tokenizer_config.json][tokenizer.json], so the fuzzer mutates both; a length of 0 or one that does not
// fit means "no tokenizer_config.json".
#include <cstring>

#include "core/infer/tokenizer_loaders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint32_t config_size = 0;
    if (size >= 4) std::memcpy(&config_size, data, 4);
    const bool has_config = size >= 4 && config_size > 0 && config_size <= size - 4;
    const std::span<const uint8_t> input(data, size);
    if (has_config) qbfuzz::write_file("tokenizer_config.json", input.subspan(4, config_size));
    else qbfuzz::remove_file("tokenizer_config.json");

    const auto path = qbfuzz::write_file("tokenizer.json", has_config ? input.subspan(4 + config_size) : input);
    qbfuzz::expect_errors_only([&] { qbfuzz::exercise_tokenizer(qb::load_tokenizer_from_json(path)); });
    return 0;
}
