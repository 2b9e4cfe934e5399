// libFuzzer target: llama2.c checkpoint parsing and model loading from it.
#include "core/io/llama2c_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = qbfuzz::write_file("model.bin", {data, size});
    qbfuzz::expect_errors_only([&] { const qb::Llama2cFile file(path); });
    qbfuzz::load_model(path);
    return 0;
}
