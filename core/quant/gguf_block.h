// Shared pieces of the ggml block-type codecs (gguf_legacy.cpp, gguf_kquants.cpp): the registry entry
// builder, little-endian half-precision fields, and ggml's rounding helper. Everything here follows
// ggml's arithmetic exactly (same operations in the same order), because encoders must reproduce
// llama.cpp's bytes and decoders its floats bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/quant/format.h"
#include "core/util/half.h"

namespace qb::gguf {

// A FormatKind::GgufBlock registry entry; block geometry and bits come from ggml_type_info(ggml_type).
FormatInfo block_format(std::string name, int ggml_type, std::string description, EncodeRowFn encode,
                        DecodeRowFn decode);

// Throws Error("format <name>", shape_problem) unless n is a whole number of blocks, so a codec called
// directly with a bad row length fails cleanly instead of reading or writing past the row.
void require_whole_blocks(const FormatInfo& f, int64_t n);

inline float load_half(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
}

inline void store_half(uint8_t* p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(p, &h, 2);
}

// Rounds half to even through the float mantissa (ggml's nearest_int). Valid for |x| < 2^22; larger
// inputs give the same deterministic garbage as ggml's, which its clamps then absorb. Float/Int may
// also be GCC vector types of floats / int32s (the lane-parallel searches).
template <typename Int, typename Float>
Int round_through_mantissa(const Float& x) {
    const Float shifted = x + 12582912.f;  // 1.5 * 2^23: the integer lands in the low mantissa bits
    Int bits;
    static_assert(sizeof bits == sizeof shifted);
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

inline int nearest_int(float x) { return round_through_mantissa<int32_t>(x); }

// Sum of squares in index order (ggml's accumulation order matters for exactness).
inline float sum_of_squares(const float* x, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
    return sum;
}

// llama.cpp's importance weighting: the imatrix weight of each value scaled by its magnitude against the
// spread of its surroundings, w_j = q_j * sqrt(sigma2 + x_j^2).
inline void importance_weights(const float* x, const float* importance, int n, float sigma2, float* weight) {
    for (int j = 0; j < n; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

}  // namespace qb::gguf
