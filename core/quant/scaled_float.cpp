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
//   block holding inf or NaN gives the NaN scale). floor(log2) is exact (ilogb). Elements are x / X
//   rounded to nearest even and saturated to the element's largest normal.
//   mxfp4:  [X][16 bytes of E2M1 codes, nibble order above], emax_elem 2: byte-identical layout to
//           ggml's MXFP4 (type 39), 17 bytes; decodes identically (ggml's quantizer may round exact ties
//           and blocks whose absmax lies just below a power of two differently: it uses floorf(log2f)).
//   mxint8: [X][32 int8], element value q * 2^-6 with q in -127..127, emax_elem 0, 33 bytes.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "core/quant/format_families.h"
#include "core/quant/grid_common.h"

namespace qb {
namespace {

// ---- minifloats ----------------------------------------------------------------------------------

struct MiniFloat {
    int exponent_bits, mantissa_bits, bias;
    bool has_infinity;    // IEEE-style: the all-ones exponent holds inf (mantissa 0) and NaNs
    unsigned max_finite;  // magnitude bits of the largest finite value
    unsigned nan;         // magnitude bits of the NaN produced
};

constexpr MiniFloat kE4M3{4, 3, 7, false, 0x7e, 0x7f};
constexpr MiniFloat kE5M2{5, 2, 15, true, 0x7b, 0x7e};
constexpr MiniFloat kE2M1{2, 1, 1, false, 0x7, 0};

unsigned sign_bit(const MiniFloat& m) { return 1u << (m.exponent_bits + m.mantissa_bits); }
unsigned infinity_bits(const MiniFloat& m) { return ((1u << m.exponent_bits) - 1) << m.mantissa_bits; }

float minifloat_value(const MiniFloat& m, unsigned code) {
    const unsigned magnitude = code & (sign_bit(m) - 1);
    const int exponent = int(magnitude >> m.mantissa_bits);
    const int mantissa = int(magnitude & ((1u << m.mantissa_bits) - 1));
    float value;
    if (m.has_infinity && magnitude >= infinity_bits(m))
        value = mantissa == 0 ? INFINITY : NAN;
    else if (!m.has_infinity && m.nan != 0 && magnitude == m.nan)
        value = NAN;
    else if (exponent == 0)
        value = std::ldexp(float(mantissa), 1 - m.bias - m.mantissa_bits);
    else
        value = std::ldexp(float((1 << m.mantissa_bits) + mantissa), exponent - m.bias - m.mantissa_bits);
    return (code & sign_bit(m)) ? -value : value;
}

unsigned minifloat_code(const MiniFloat& m, float x) {
    const unsigned sign = std::signbit(x) ? sign_bit(m) : 0;
    const float a = std::fabs(x);
    if (std::isnan(a)) return sign | m.nan;
    const unsigned overflow = m.has_infinity ? infinity_bits(m) : m.max_finite;
    if (std::isinf(a)) return sign | overflow;
    int64_t magnitude;
    if (a < std::ldexp(1.0f, 1 - m.bias)) {  // subnormal: fixed step 2^(1 - bias - mantissa_bits)
        magnitude = int64_t(std::nearbyint(std::ldexp(a, m.bias - 1 + m.mantissa_bits)));
    } else {  // normal: scaled mantissa in [2^M, 2^(M+1)]; rounding up to 2^(M+1) carries into the exponent
        const int e = std::ilogb(a);
        const int64_t scaled = int64_t(std::nearbyint(std::ldexp(a, m.mantissa_bits - e)));
        magnitude = (int64_t(e + m.bias) << m.mantissa_bits) + scaled - (int64_t(1) << m.mantissa_bits);
    }
    return sign | (magnitude > int64_t(m.max_finite) ? overflow : unsigned(magnitude));
}

template <const MiniFloat& M>
const std::array<float, 256>& minifloat_table() {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (unsigned code = 0; code < 256; ++code) t[code] = minifloat_value(M, code);
        return t;
    }();
    return table;
}

template <const MiniFloat& M>
void encode_minifloat(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t i = 0; i < n; ++i) y[i] = uint8_t(minifloat_code(M, x[i]));
}

template <const MiniFloat& M>
void decode_minifloat(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    const auto& table = minifloat_table<M>();
    for (int64_t i = 0; i < n; ++i) x[i] = table[y[i]];
}

// ---- 16-entry lookup tables ------------------------------------------------------------------------

class Lut4 {
public:
    explicit Lut4(const std::array<float, 16>& values) : values_(values) {
        std::array<uint8_t, 16> order;
        std::iota(order.begin(), order.end(), uint8_t(0));
        std::stable_sort(order.begin(), order.end(), [&](uint8_t a, uint8_t b) { return values_[a] < values_[b]; });
        int distinct = 0;
        for (uint8_t code : order)  // equal values (E2M1's ±0) keep the lowest code
            if (distinct == 0 || values_[code] != values_[ascending_[distinct - 1]]) ascending_[distinct++] = code;
        bounds_.fill(INFINITY);  // unused bounds are never passed
        for (int k = 0; k + 1 < distinct; ++k) {
            const float midpoint = (values_[ascending_[k]] + values_[ascending_[k + 1]]) / 2;
            const bool tie_goes_up = ascending_[k + 1] % 2 == 0;
            bounds_[k] = tie_goes_up ? std::nextafter(midpoint, -INFINITY) : midpoint;
        }
    }
    // The code of the entry nearest to x: the number of bounds x lies above (a fixed-length loop, so
    // the compiler vectorises it). NaN gives the lowest entry.
    uint8_t nearest(float x) const {
        int index = 0;
        for (float bound : bounds_) index += x > bound;
        return ascending_[index];
    }
    float value(unsigned code) const { return values_[code]; }

private:
    std::array<float, 16> values_;
    std::array<uint8_t, 16> ascending_{};  // codes of the distinct values, by increasing value
    std::array<float, 15> bounds_{};       // x above bounds_[k] is nearer to ascending_[k + 1] than to ascending_[k]
};

const Lut4& nf4_table() {
    static const Lut4 table({-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                             -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                             0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                             0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                             0.7229568362236023f, 1.0f});
    return table;
}

const Lut4& e2m1_table() {
    static const Lut4 table([] {
        std::array<float, 16> values{};
        for (unsigned code = 0; code < 16; ++code) values[code] = minifloat_value(kE2M1, code);
        return values;
    }());
    return table;
}

// ---- block scales ----------------------------------------------------------------------------------

struct BlockScaling {
    int64_t block;
    bool shared_exponent;  // OCP MX E8M0 byte; otherwise an f16 absmax scale
    float element_max;     // f16 scale: the block's absmax maps onto this element value
    int emax_elem;         // E8M0: exponent of the element format's largest power of two
};

size_t scale_bytes(const BlockScaling& s) { return s.shared_exponent ? 1 : 2; }

// x / scale is computed as x * inverse; with a power-of-two scale this is exact.
float write_block_scale(const BlockScaling& s, const float* x, uint8_t* record) {
    if (!s.shared_exponent) {
        const uint16_t h = f16_scale_at_least(abs_max(x, s.block) / s.element_max);
        store_f16(record, h);
        const float scale = fp16_to_fp32(h);
        return scale > 0 ? 1.0f / scale : 0.0f;
    }
    if (!std::all_of(x, x + s.block, [](float v) { return std::isfinite(v); })) {
        record[0] = 0xff;
        return 0.0f;
    }
    const float absmax = abs_max(x, s.block);
    const int exponent = absmax > 0 ? std::clamp(std::ilogb(absmax) - s.emax_elem, -127, 127) : -127;
    record[0] = uint8_t(exponent + 127);
    return std::ldexp(1.0f, -exponent);
}

float read_block_scale(const BlockScaling& s, const uint8_t* record) {
    if (!s.shared_exponent) return load_f16(record);
    return record[0] == 0xff ? NAN : std::ldexp(1.0f, int(record[0]) - 127);
}

// ---- 4-bit lookup formats: nf4, fp4, mxfp4 -------------------------------------------------------

struct Lookup4Spec {
    const Lut4& (*table)();
    BlockScaling scaling;
};

constexpr Lookup4Spec kNf4{nf4_table, {64, false, 1.0f, 0}};
constexpr Lookup4Spec kFp4{e2m1_table, {32, false, 6.0f, 0}};
constexpr Lookup4Spec kMxfp4{e2m1_table, {32, true, 6.0f, 2}};

template <const Lookup4Spec& S>
void encode_lookup4(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    const Lut4& table = S.table();
    const int64_t half = S.scaling.block / 2;
    for (int64_t begin = 0; begin < n; begin += S.scaling.block) {
        const float inverse = write_block_scale(S.scaling, x + begin, y);
        y += scale_bytes(S.scaling);
        for (int64_t j = 0; j < half; ++j)
            y[j] = uint8_t(table.nearest(x[begin + j] * inverse) | table.nearest(x[begin + half + j] * inverse) << 4);
        y += half;
    }
}

template <const Lookup4Spec& S>
void decode_lookup4(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    const Lut4& table = S.table();
    const int64_t half = S.scaling.block / 2;
    for (int64_t begin = 0; begin < n; begin += S.scaling.block) {
        const float scale = read_block_scale(S.scaling, y);
        y += scale_bytes(S.scaling);
        for (int64_t j = 0; j < half; ++j) {
            x[begin + j] = table.value(y[j] & 0x0f) * scale;
            x[begin + half + j] = table.value(y[j] >> 4) * scale;
        }
        y += half;
    }
}

// ---- mxint8 ----------------------------------------------------------------------------------------

constexpr BlockScaling kMxint8{32, true, 0.0f, 0};
constexpr float kMxint8Step = 0x1p-6f;

void encode_mxint8(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    for (int64_t begin = 0; begin < n; begin += kMxint8.block) {
        const float inverse = write_block_scale(kMxint8, x + begin, y++);
        for (int64_t j = 0; j < kMxint8.block; ++j) {
            const float q = std::nearbyint(x[begin + j] * inverse / kMxint8Step);
            *y++ = uint8_t(int8_t(std::fmin(std::fmax(q, -127.0f), 127.0f)));  // a NaN block codes 0
        }
    }
}

void decode_mxint8(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    for (int64_t begin = 0; begin < n; begin += kMxint8.block) {
        const float scale = read_block_scale(kMxint8, y++);
        for (int64_t j = 0; j < kMxint8.block; ++j) x[begin + j] = float(int8_t(*y++)) * kMxint8Step * scale;
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
                      encode_minifloat<kE4M3>, decode_minifloat<kE4M3>));
    t.back().safetensors_dtype = "F8_E4M3";
    t.push_back(entry("fp8_e5m2", K::MiniFloat, "OCP FP8 E5M2 (IEEE-like inf/NaN, max 57344), no scale", 8, 1, 1,
                      encode_minifloat<kE5M2>, decode_minifloat<kE5M2>));
    t.back().safetensors_dtype = "F8_E5M2";
    t.push_back(entry("mxfp4", K::Microscaling, "OCP MXFP4: 32 E2M1 values sharing an E8M0 scale", 4, 32,
                      lookup4_block_bytes(kMxfp4), encode_lookup4<kMxfp4>, decode_lookup4<kMxfp4>));
    t.back().ggml_type = 39;
    t.push_back(entry("mxint8", K::Microscaling, "OCP MXINT8: 32 int8 values (step 2^-6) sharing an E8M0 scale", 8,
                      32, 1 + size_t(kMxint8.block), encode_mxint8, decode_mxint8));
}

}  // namespace qb
