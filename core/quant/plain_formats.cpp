// Plain storage types: IEEE floats and raw integers (read as their value).
#include <cstring>

#include "core/quant/format_families.h"
#include "core/util/half.h"

namespace qb {
namespace {

template <typename T>
void decode_cast(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, y + i * sizeof(T), sizeof(T));
        x[i] = float(v);
    }
}

template <typename T>
void encode_cast(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) {
        T v = T(x[i]);
        std::memcpy(y + i * sizeof(T), &v, sizeof(T));
    }
}

template <float (*To32)(uint16_t)>
void decode_16(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, y + 2 * i, 2);
        x[i] = To32(h);
    }
}

template <uint16_t (*From32)(float)>
void encode_16(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h = From32(x[i]);
        std::memcpy(y + 2 * i, &h, 2);
    }
}

FormatInfo plain(std::string name, FormatKind kind, std::string description, size_t bytes, int ggml_type,
                 std::string st_dtype, EncodeRowFn enc, DecodeRowFn dec) {
    FormatInfo f;
    f.name = std::move(name);
    f.kind = kind;
    f.description = std::move(description);
    f.nominal_bits = 8.0 * double(bytes);
    f.block_values = 1;
    f.block_bytes = bytes;
    f.ggml_type = ggml_type;
    f.safetensors_dtype = std::move(st_dtype);
    f.encode_row = enc;
    f.decode_row = dec;
    return f;
}

}  // namespace

void add_plain_formats(std::vector<FormatInfo>& t) {
    using K = FormatKind;
    t.push_back(plain("f32", K::Float, "IEEE binary32", 4, 0, "F32", encode_cast<float>, decode_cast<float>));
    t.push_back(plain("f16", K::Float, "IEEE binary16", 2, 1, "F16", encode_16<fp32_to_fp16>, decode_16<fp16_to_fp32>));
    t.push_back(plain("bf16", K::Float, "bfloat16", 2, 30, "BF16", encode_16<fp32_to_bf16>, decode_16<bf16_to_fp32>));
    t.push_back(plain("f64", K::Float, "IEEE binary64", 8, 28, "F64", encode_cast<double>, decode_cast<double>));
    // Raw integers are storage types of input files only; quantized integer weights use grid formats.
    t.push_back(plain("i8", K::Integer, "signed 8-bit integer", 1, 24, "I8", nullptr, decode_cast<int8_t>));
    t.push_back(plain("u8", K::Integer, "unsigned 8-bit integer", 1, -1, "U8", nullptr, decode_cast<uint8_t>));
    t.push_back(plain("i16", K::Integer, "signed 16-bit integer", 2, 25, "I16", nullptr, decode_cast<int16_t>));
    t.push_back(plain("i32", K::Integer, "signed 32-bit integer", 4, 26, "I32", nullptr, decode_cast<int32_t>));
    t.push_back(plain("i64", K::Integer, "signed 64-bit integer", 8, 27, "I64", nullptr, decode_cast<int64_t>));
}

}  // namespace qb
