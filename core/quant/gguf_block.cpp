#include "core/quant/gguf_block.h"

#include "core/util/error.h"

namespace qb::gguf {

FormatInfo block_format(std::string name, int ggml_type, std::string description, EncodeRowFn encode,
                        DecodeRowFn decode) {
    const GgmlTypeInfo geometry = ggml_type_info(ggml_type);
    FormatInfo f;
    f.name = std::move(name);
    f.kind = FormatKind::GgufBlock;
    f.description = std::move(description);
    f.block_values = geometry.block;
    f.block_bytes = geometry.bytes;
    f.nominal_bits = 8.0 * double(geometry.bytes) / double(geometry.block);
    f.ggml_type = ggml_type;
    f.encode_row = encode;
    f.decode_row = decode;
    return f;
}

void require_whole_blocks(const FormatInfo& f, int64_t n) {
    if (auto problem = f.shape_problem(n); !problem.empty()) throw Error("format " + f.name, problem);
}

}  // namespace qb::gguf
