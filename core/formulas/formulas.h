// Formulas shared by the CPU code and the GPU shaders, so both compute the same numbers from one text.
// Each core/formulas/*.inc is written in the common subset of C++20 and GLSL 4.50; this header is the
// C++ side (the GLSL side is gpu/shaders/common/formulas.glsl). Rules for .inc files:
//   - scalar types float, int, uint; casts written as constructors: float(x), int(x), uint(x);
//   - the bytes of a block are block_byte (C++: uint8_t, so CPU codecs pass their block memory directly;
//     GLSL: uint holding one byte, since shaders cannot do arithmetic on 8-bit types everywhere);
//   - encoded blocks are read in place through QB_BLOCK / QB_BYTE (block_bytes.inc);
//   - tables are QB_CONST arrays (floats as bit patterns); functions start with QB_FN; array
//     parameters are QB_IN(float) x[32], QB_OUT(block_byte) y[18], QB_INOUT(block_byte) L[256] (GLSL copies
//     an out array back whole: elements a function leaves unwritten in a QB_OUT array are undefined in the
//     caller's afterwards; an array it updates in place is QB_INOUT);
//   - double is allowed where a sum must not depend on the order of float rounding (needs shaderFloat64);
//   - a value whose rounding matters is declared QB_PRECISE (GLSL `precise`: no fused multiply-add;
//     the CPU build uses -ffp-contract=off);
//   - division goes through div_exact(a, b): correctly rounded on both sides (GPUs may be 2.5 ulp off
//     with `/`, so the shader divides in double);
//   - builtins: abs, min and max (integers only), trunc, roundEven, floatBitsToUint, uintBitsToFloat, round_half_away
//     (C's roundf: halves away from zero; GLSL's round() may go either way at .5, so the shader side
//     builds it from trunc) and sqrt_exact (correctly rounded, as C's sqrtf; the shader side corrects
//     GLSL's few-ulp sqrt).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#define QB_FN inline
#define QB_CONST inline constexpr
#define QB_PRECISE
#define QB_IN(type) const type
#define QB_OUT(type) type
#define QB_INOUT(type) type
#define QB_BLOCK const block_byte*
#define QB_BYTE(block, k) uint((block)[k])

namespace qb::formula {

using uint = std::uint32_t;
using block_byte = std::uint8_t;

inline float uintBitsToFloat(uint u) { return std::bit_cast<float>(u); }
inline uint floatBitsToUint(float f) { return std::bit_cast<uint>(f); }
inline float abs(float x) { return std::fabs(x); }
inline float trunc(float x) { return std::trunc(x); }
inline float roundEven(float x) { return std::nearbyint(x); }  // in the default rounding mode
float min(float a, float b) = delete;  // see larger / smaller in rounding.inc
float max(float a, float b) = delete;
inline int min(int a, int b) { return b < a ? b : a; }
inline int max(int a, int b) { return a < b ? b : a; }
inline uint min(uint a, uint b) { return b < a ? b : a; }
inline uint max(uint a, uint b) { return a < b ? b : a; }
inline float div_exact(float a, float b) { return a / b; }
inline float round_half_away(float x) { return std::round(x); }
inline float sqrt_exact(float x) { return std::sqrt(x); }

#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/minifloat.inc"
#include "core/formulas/gguf_legacy.inc"
#include "core/formulas/int_grid.inc"
#include "core/formulas/scaled_float.inc"
#include "core/formulas/scale_search.inc"
#include "core/formulas/kquants.inc"
#include "core/formulas/iq4.inc"

}  // namespace qb::formula

#undef QB_FN
#undef QB_CONST
#undef QB_PRECISE
#undef QB_IN
#undef QB_OUT
#undef QB_INOUT
#undef QB_BLOCK
#undef QB_BYTE
