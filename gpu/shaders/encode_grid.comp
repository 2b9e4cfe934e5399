#version 450
// f32 -> integer grid g<N> (sym or asym, no clipping search): see common/grid.glsl.
#extension GL_GOOGLE_include_directive : require
#include "common/grid.glsl"

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer Target { uint8_t target[]; };

void main() {
    uint group = linear_invocation();
    if (group >= params.groups) return;
    uint first = group * GROUP;
    uint out_at = group * GROUP_BYTES;

    float lo = 0.0, hi = 0.0;
    for (uint i = 0u; i < GROUP; ++i) {
        float x = source[first + i];
        if (ASYMMETRIC) {
            lo = fmin_number(lo, x);
            hi = fmax_number(hi, x);
        } else {
            hi = fmax_number(hi, abs(x));
        }
    }
    uint record = ASYMMETRIC ? grid_asymmetric_record(lo, hi, BITS) : grid_symmetric_scale(hi, BITS);
    int zero = ASYMMETRIC ? int(record >> 16) : grid_symmetric_zero(BITS);
    target[out_at] = uint8_t(record & 0xffu);
    target[out_at + 1u] = uint8_t((record >> 8) & 0xffu);
    if (ASYMMETRIC) target[out_at + 2u] = uint8_t(zero);
    out_at += RECORD_BYTES;

    float inverse = grid_inverse_scale(fp16_bits_to_fp32(record & 0xffffu));
    int lowest = grid_lowest_code(BITS, ASYMMETRIC);
    int highest = grid_highest_code(BITS);
    uint pending = 0u;
    int pending_bits = 0;
    for (uint i = 0u; i < GROUP; ++i) {
        pending |= grid_code(source[first + i], inverse, zero, lowest, highest) << pending_bits;
        pending_bits += BITS;
        for (; pending_bits >= 8; pending_bits -= 8, pending >>= 8) target[out_at++] = uint8_t(pending & 0xffu);
    }
    if (pending_bits > 0) target[out_at] = uint8_t(pending & 0xffu);
}
