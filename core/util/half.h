// IEEE binary16 and bfloat16 conversions, rounding to nearest even exactly like ggml's reference (and
// x86 F16C), so encoded bytes match llama.cpp bit for bit. The arithmetic is the shared formulas'
// (core/formulas/half.inc), the one definition the GPU shaders use too.
#pragma once
#include <cstdint>

#include "core/formulas/formulas.h"

namespace qb {

inline float fp16_to_fp32(uint16_t h) { return formula::fp16_bits_to_fp32(h); }
inline uint16_t fp32_to_fp16(float f) { return uint16_t(formula::fp32_to_fp16_bits(f)); }
inline float bf16_to_fp32(uint16_t h) { return formula::bf16_bits_to_fp32(h); }
inline uint16_t fp32_to_bf16(float f) { return uint16_t(formula::fp32_to_bf16_bits(f)); }

}  // namespace qb
