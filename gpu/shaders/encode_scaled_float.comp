#version 450
// f32 -> nf4, fp4, mxfp4 or mxint8 (core/quant/scaled_float.cpp), one invocation per block:
// [scale record][codes]. KIND: 0 nf4 (64 values, f16 absmax scale), 1 fp4 (32, f16 absmax / 6),
// 2 mxfp4 (32, E8M0, E2M1 elements), 3 mxint8 (32, E8M0, int8 elements).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Target { uint8_t target[]; };  // read by the formulas' decoders only
#define BLOCK_BYTES target
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/minifloat.inc"
#include "core/formulas/int_grid.inc"
#include "core/formulas/scaled_float.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint KIND = 0u;
const uint NF4 = 0u, FP4 = 1u, MXFP4 = 2u, MXINT8 = 3u;
const uint BLOCK = KIND == NF4 ? 64u : 32u;
const uint RECORD_BYTES = KIND <= FP4 ? 2u : 1u;
const uint BLOCK_BYTES_COUNT = RECORD_BYTES + (KIND == MXINT8 ? BLOCK : BLOCK / 2u);

layout(push_constant) uniform Params { uint blocks; } params;

// Writes the block's scale record at `at` and returns the factor mapping its values onto elements.
float write_scale(uint first, uint at) {
    float absmax = 0.0;
    bool finite = true;
    for (uint j = 0u; j < BLOCK; ++j) {
        absmax = fmax_number(absmax, abs(source[first + j]));
        finite = finite && is_finite(source[first + j]);
    }
    if (KIND <= FP4) {
        uint h = lookup4_scale_bits(absmax, KIND == NF4 ? 1.0 : 6.0);
        target[at] = uint8_t(h & 0xffu);
        target[at + 1u] = uint8_t(h >> 8);
        return grid_inverse_scale(fp16_bits_to_fp32(h));
    }
    if (!finite) {
        target[at] = uint8_t(mx_nan_scale);
        return 0.0;
    }
    int exponent = mx_shared_exponent(absmax, KIND == MXFP4 ? 2 : 0);
    target[at] = uint8_t(exponent + 127);
    return mx_power_of_two(-exponent);
}

uint nibble_code(float x) { return KIND == NF4 ? nf4_code(x) : e2m1_code(x); }

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    uint first = block * BLOCK;
    uint at = block * BLOCK_BYTES_COUNT;
    float inverse = write_scale(first, at);
    at += RECORD_BYTES;
    if (KIND == MXINT8) {
        for (uint j = 0u; j < BLOCK; ++j) target[at + j] = uint8_t(mxint8_code(source[first + j] * inverse));
        return;
    }
    uint half_block = BLOCK / 2u;
    for (uint j = 0u; j < half_block; ++j)
        target[at + j] = uint8_t(nibble_code(source[first + j] * inverse) | (nibble_code(source[first + half_block + j] * inverse) << 4));
}
