// libFuzzer target: GGUF parsing, model loading from GGUF, and decoding of every tensor type.
#include "core/io/gguf_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = qbfuzz::write_file("model.gguf", {data, size});
    qbfuzz::expect_errors_only([&] {
        const qb::GgufFile file(path);
        for (const auto& t : file.tensors()) qbfuzz::decode(t.format, t.data, t.rows(), t.cols());
    });
    qbfuzz::load_model(path, /*decode_tensors=*/false);  // same decoders as above
    return 0;
}
