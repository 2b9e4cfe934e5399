// IEEE binary16 and bfloat16 conversions, rounding to nearest even exactly like ggml's reference
// (and x86 F16C), so encoded bytes match llama.cpp bit for bit. Used by CPU code and mirrored in shaders.
#pragma once
#include <bit>
#include <cstdint>

namespace qb {

inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
    const float subnormal = float(mant) * 0x1p-24f;  // exact: at most 10 significant bits
    return sign ? -subnormal : subnormal;
}

inline uint16_t fp32_to_fp16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN stays NaN
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                          // rounds to inf
    if (abs < 0x38800000u) {                                                           // f16 subnormal / zero
        // add 0.5 so the FPU's round-to-nearest-even does the rounding at the 2^-24 step
        const float r = std::bit_cast<float>(abs) + 0.5f;
        return uint16_t(sign | (std::bit_cast<uint32_t>(r) - 0x3f000000u));
    }
    const uint32_t mant_odd = (abs >> 13) & 1u;
    const uint32_t rounded = abs + 0xc8000fffu + mant_odd;  // rebias exponent (-112<<23) and round half to even
    return uint16_t(sign | (rounded >> 13));
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

inline uint16_t fp32_to_bf16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 64u);  // quiet NaN
    return uint16_t((x + (0x7fffu + ((x >> 16) & 1u))) >> 16);
}

}  // namespace qb
