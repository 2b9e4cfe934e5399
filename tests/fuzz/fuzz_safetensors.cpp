// libFuzzer target: safetensors parsing and Hugging Face model loading. An input is
// [u32 LE length n][n bytes of config.json][safetensors file], so the fuzzer mutates both; a length
// that does not fit means "no config.json".
#include <cstring>

#include "core/io/safetensors_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint32_t config_size = 0;
    if (size >= 4) std::memcpy(&config_size, data, 4);
    const bool has_config = size >= 4 && config_size <= size - 4;
    const std::span<const uint8_t> input(data, size);
    const auto model = has_config ? input.subspan(4 + config_size) : input;
    if (has_config) qbfuzz::write_file("config.json", input.subspan(4, config_size));
    else qbfuzz::remove_file("config.json");

    const auto path = qbfuzz::write_file("model.safetensors", model);
    qbfuzz::expect_errors_only([&] {
        const qb::SafetensorsFile file(path);
        for (const auto& t : file.tensors()) {
            const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
            qbfuzz::decode(t.format, t.data, cols == 0 ? 0 : t.numel() / cols, cols);
        }
    });
    qbfuzz::load_model(path);
    return 0;
}
