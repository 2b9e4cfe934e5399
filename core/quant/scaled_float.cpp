// Float-like formats: NF4, FP4, FP8 (OCP E4M3 / E5M2) and OCP Microscaling v1.0 (MXFP4, MXINT8).
//
// FP8 (one byte per value, no scale). Conversion from f32 rounds to nearest, ties to even.
//   fp8_e4m3: bias 7, no infinity; S.1111.111 is NaN, max 448. Saturating: finite values and ±inf
//             beyond 448 become ±448; NaN stays NaN (0x7f / 0xff).
//   fp8_e5m2: bias 15, IEEE-like; S.11111.00 is ±inf, other S.11111.xx are NaN, max 57344. Values that
//             round beyond the max become ±inf, inf stays inf, NaN stays NaN (0x7e / 0xfe).
// 4-bit lookup formats: a block of B values is  [scale record][B/2 bytes], byte j holding the code of
// value j in its low nibble and of value j + B/2 in its high nibble (ggml's q4_0 / iq4_nl / mxfp4
// order). Each value is the table entry nearest to x / scale; a tie goes to the even code (for E2M1
// that is round-to-nearest-even).
//   nf4:   bitsandbytes' NormalFloat table (code 0 = -1 ... code 7 = 0 ... code 15 = 1), B = 64,
//          record = f16 absmax scale (34 bytes, 4.25 bits per weight).
//   fp4:   E2M1 values {0, 0.5, 1, 1.5, 2, 3, 4, 6}, code = sign << 3 | exponent << 1 | mantissa,
//          B = 32, record = f16 scale absmax / 6 (18 bytes, 4.5 bits per weight).
//   The f16 scale is the smallest f16 not below the exact one, so the block maximum is never clipped.
// MX (block of 32 sharing an E8M0 scale byte X = 2^(byte - 127); 0xff = NaN):
//   X's exponent = floor(log2(absmax)) - emax_elem, clamped to [-127, 127] (absmax 0 gives byte 0; a
//   block holding inf or NaN gives the NaN scale). floor(log2) is exact (the exponent bits). Elements are x / X
//   rounded to nearest even and saturated to the element's largest normal.
//   mxfp4:  [X][16 bytes of E2M1 codes, nibble order above], emax_elem 2: byte-identical layout to
//           ggml's MXFP4 (type 39), 17 bytes; decodes identically (ggml's quantizer may round exact ties
//           and blocks whose absmax lies just below a power of two differently: it uses floorf(log2f)).
//   mxint8: [X][32 int8], element value q * 2^-6 with q in -127..127, emax_elem 0, 33 bytes.
#include <algorithm>
#include <array>
#include <cmath>

#include "core/formulas/formulas.h"
#include "core/quant/format_families.h"
#include "core/quant/grid_common.h"

namespace qb {
namespace {

// The arithmetic is the shared formulas' (core/formulas/minifloat.inc, scaled_float.inc), which the GPU
// kernels use too.

// ---- FP8 ---------------------------------------------------------------------------------------------

using MinifloatCodeFn = uint32_t (*)(float);
using MinifloatValueFn = float (*)(uint32_t);

template <MinifloatCodeFn Code>
void encode_minifloat(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) y[i] = uint8_t(Code(x[i]));
}

// The values of all Codes codes, computed once: decoding looks them up.
template <MinifloatValueFn Value, size_t Codes>
const std::array<float, Codes>& value_table() {
    static const std::array<float, Codes> table = [] {
        std::array<float, Codes> t{};
        for (uint32_t code = 0; code < Codes; ++code) t[code] = Value(code);
        return t;
    }();
    return table;
}

template <MinifloatValueFn Value>
void decode_minifloat(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    const auto& table = value_table<Value, 256>();
    for (int64_t i = 0; i < n; ++i) x[i] = table[y[i]];
}

// ---- block scales ----------------------------------------------------------------------------------

struct BlockScaling {
    int64_t block;
    bool shared_exponent;  // OCP MX E8M0 byte; otherwise an f16 absmax scale
    float element_max;     // f16 scale: the block's absmax maps onto this element value
    int emax_elem;         // E8M0: exponent of the element format's largest power of two
};

size_t scale_bytes(const BlockScaling& s) { return s.shared_exponent ? 1 : 2; }

// Writes the block's scale record and returns the factor that maps its values onto the elements.
float write_block_scale(const BlockScaling& s, const float* x, uint8_t* record) {
    if (!s.shared_exponent) {
        const uint16_t h = uint16_t(formula::lookup4_scale_bits(abs_max(x, s.block), s.element_max));
        store_f16(record, h);
        return formula::grid_inverse_scale(fp16_to_fp32(h));
    }
    if (!std::all_of(x, x + s.block, formula::is_finite)) {
        record[0] = uint8_t(formula::mx_nan_scale);
        return 0.0f;
    }
    const int exponent = formula::mx_shared_exponent(abs_max(x, s.block), s.emax_elem);
    record[0] = uint8_t(exponent + 127);
    return formula::mx_power_of_two(-exponent);
}

float read_block_scale(const BlockScaling& s, const uint8_t* record) {
    return s.shared_exponent ? formula::mx_scale_value(record[0]) : load_f16(record);
}

// ---- 4-bit lookup formats: nf4, fp4, mxfp4 -------------------------------------------------------

struct Lookup4Spec {
    MinifloatCodeFn code;
    MinifloatValueFn value;
    BlockScaling scaling;
};

constexpr Lookup4Spec kNf4{formula::nf4_code, formula::nf4_value, {64, false, 1.0f, 0}};
constexpr Lookup4Spec kFp4{formula::e2m1_code, formula::e2m1_value, {32, false, 6.0f, 0}};
constexpr Lookup4Spec kMxfp4{formula::e2m1_code, formula::e2m1_value, {32, true, 6.0f, 2}};

template <const Lookup4Spec& S>
void encode_lookup4(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    const int64_t half = S.scaling.block / 2;
    for (int64_t begin = 0; begin < n; begin += S.scaling.block) {
        const float inverse = write_block_scale(S.scaling, x + begin, y);
        y += scale_bytes(S.scaling);
        for (int64_t j = 0; j < half; ++j)
            y[j] = uint8_t(S.code(x[begin + j] * inverse) | S.code(x[begin + half + j] * inverse) << 4);
        y += half;
    }
}

template <const Lookup4Spec& S>
void decode_lookup4(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    const auto& table = value_table<S.value, 16>();
    const int64_t half = S.scaling.block / 2;
    for (int64_t begin = 0; begin < n; begin += S.scaling.block) {
        const float scale = read_block_scale(S.scaling, y);
        y += scale_bytes(S.scaling);
        for (int64_t j = 0; j < half; ++j) {
            x[begin + j] = table[y[j] & 0x0f] * scale;
            x[begin + half + j] = table[y[j] >> 4] * scale;
        }
        y += half;
    }
}

// ---- mxint8 ----------------------------------------------------------------------------------------

constexpr BlockScaling kMxint8{32, true, 0.0f, 0};

void encode_mxint8(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t begin = 0; begin < n; begin += kMxint8.block) {
        const float inverse = write_block_scale(kMxint8, x + begin, y++);
        for (int64_t j = 0; j < kMxint8.block; ++j) *y++ = uint8_t(formula::mxint8_code(x[begin + j] * inverse));
    }
}

void decode_mxint8(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    for (int64_t begin = 0; begin < n; begin += kMxint8.block) {
        const float scale = read_block_scale(kMxint8, y++);
        for (int64_t j = 0; j < kMxint8.block; ++j) x[begin + j] = formula::mxint8_value(*y++, scale);
    }
}

// ---- registry entries ------------------------------------------------------------------------------

FormatInfo entry(std::string name, FormatKind kind, std::string description, int bits, int64_t block,
                 size_t block_bytes, EncodeRowFn encode, DecodeRowFn decode) {
    FormatInfo f;
    f.name = std::move(name);
    f.kind = kind;
    f.description = std::move(description);
    f.block_values = block;
    f.block_bytes = block_bytes;
    f.nominal_bits = 8.0 * double(block_bytes) / double(block);
    if (block > 1) f.grid = {bits, block, false, false};
    f.encode_row = encode;
    f.decode_row = decode;
    return f;
}

size_t lookup4_block_bytes(const Lookup4Spec& s) { return scale_bytes(s.scaling) + size_t(s.scaling.block / 2); }

}  // namespace

void add_scaled_float_formats(std::vector<FormatInfo>& t) {
    using K = FormatKind;
    t.push_back(entry("nf4", K::Lookup4, "4-bit NormalFloat (bitsandbytes table), f16 absmax scale per 64", 4, 64,
                      lookup4_block_bytes(kNf4), encode_lookup4<kNf4>, decode_lookup4<kNf4>));
    t.push_back(entry("fp4", K::Lookup4, "FP4 E2M1, f16 absmax scale per 32", 4, 32, lookup4_block_bytes(kFp4),
                      encode_lookup4<kFp4>, decode_lookup4<kFp4>));
    t.push_back(entry("fp8_e4m3", K::MiniFloat, "OCP FP8 E4M3 (saturating, max 448), no scale", 8, 1, 1,
                      encode_minifloat<formula::fp32_to_e4m3>, decode_minifloat<formula::e4m3_to_fp32>));
    t.back().safetensors_dtype = "F8_E4M3";
    t.push_back(entry("fp8_e5m2", K::MiniFloat, "OCP FP8 E5M2 (IEEE-like inf/NaN, max 57344), no scale", 8, 1, 1,
                      encode_minifloat<formula::fp32_to_e5m2>, decode_minifloat<formula::e5m2_to_fp32>));
    t.back().safetensors_dtype = "F8_E5M2";
    t.push_back(entry("mxfp4", K::Microscaling, "OCP MXFP4: 32 E2M1 values sharing an E8M0 scale", 4, 32,
                      lookup4_block_bytes(kMxfp4), encode_lookup4<kMxfp4>, decode_lookup4<kMxfp4>));
    t.back().ggml_type = 39;
    t.push_back(entry("mxint8", K::Microscaling, "OCP MXINT8: 32 int8 values (step 2^-6) sharing an E8M0 scale", 8,
                      32, 1 + size_t(kMxint8.block), encode_mxint8, decode_mxint8));
}

}  // namespace qb
