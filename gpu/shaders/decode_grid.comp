#version 450
// Integer grid g<N> -> f32: see common/grid.glsl.
#extension GL_GOOGLE_include_directive : require
#include "common/grid.glsl"

layout(std430, binding = 0) readonly buffer Source { uint8_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };

void main() {
    uint group = linear_invocation();
    if (group >= params.groups) return;
    uint in_at = group * GROUP_BYTES;
    uint first = group * GROUP;
    float scale = fp16_bits_to_fp32(uint(source[in_at]) | (uint(source[in_at + 1u]) << 8));
    int zero = ASYMMETRIC ? int(source[in_at + 2u]) : grid_symmetric_zero(BITS);
    in_at += RECORD_BYTES;

    uint mask = uint(grid_highest_code(BITS));
    uint pending = 0u;
    int pending_bits = 0;
    for (uint i = 0u; i < GROUP; ++i) {
        for (; pending_bits < BITS; pending_bits += 8) pending |= uint(source[in_at++]) << pending_bits;
        target[first + i] = grid_value(pending & mask, scale, zero);
        pending >>= BITS;
        pending_bits -= BITS;
    }
}
