#version 450
// f32 -> integer grid (core/quant/int_grid.cpp: g<N> and pc, sym or asym, with or without the clipping
// search), one invocation per unit of GROUP values, at most grid_tensor_piece of them (longer units go
// through encode_grid_tensor.comp: llvmpipe's loop limit): [f16 scale][u8 zero point if ASYMMETRIC][codes of
// BITS bits, LSB-first, the last byte zero-padded]. The clipping search weights value i of a unit by the
// importance of its column when the push constants say there is one (binding 2), else by 1.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Target { uint8_t target[]; };  // read by the formulas' decoders only
layout(std430, binding = 2) readonly buffer Importance { float importance[]; };
#define BLOCK_BYTES target
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/int_grid.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const int BITS = 4;
layout(constant_id = 2) const uint GROUP = 32u;
layout(constant_id = 3) const bool ASYMMETRIC = false;
layout(constant_id = 4) const bool CLIP = false;
const uint RECORD_BYTES = ASYMMETRIC ? 3u : 2u;  // grid_record_bytes, as a constant
const uint GROUP_BYTES = RECORD_BYTES + (uint(BITS) * GROUP + 7u) / 8u;
const int CLIP_STEPS = grid_clip_steps;

layout(push_constant) uniform Params {
    uint groups;
    uint first_group;     // of the chunk, counted from the tensor's start
    uint groups_per_row;
    uint weighted;        // 1: importance holds one weight per column
} params;

// A unit's record: f16 scale bits | zero point << 16.
uint record_for_range(float lo, float hi) {
    return ASYMMETRIC ? grid_asymmetric_record(lo, hi, BITS) : grid_symmetric_scale(hi, BITS) | (uint(grid_symmetric_zero(BITS)) << 16);
}

// The clipping search's error of the unit starting at value `first` stored with `record`.
double unit_error(uint first, uint first_column, uint record) {
    float s = fp16_bits_to_fp32(record & 0xffffu);
    float inverse = grid_inverse_scale(s);
    int zero = int(record >> 16);
    precise double sum = 0.0lf;
    for (uint i = 0u; i < GROUP; ++i) {
        float x = source[first + i];
        float value = grid_value(grid_code(x, inverse, zero, grid_lowest_code(BITS, ASYMMETRIC), grid_highest_code(BITS)), s, zero);
        sum += grid_error_term(x, value, params.weighted != 0u ? importance[first_column + i] : 1.0);
    }
    return sum;
}

uint choose_record(uint first, uint first_column) {
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
    uint best = record_for_range(lo, hi);
    if (!CLIP) return best;
    double best_error = unit_error(first, first_column, best);
    for (int k = 1; k <= CLIP_STEPS; ++k) {
        float ratio = grid_clip_ratio(k);
        uint candidate = record_for_range(ratio * lo, ratio * hi);
        double error = unit_error(first, first_column, candidate);
        if (error < best_error) {
            best = candidate;
            best_error = error;
        }
    }
    return best;
}

void main() {
    uint group = linear_invocation();
    if (group >= params.groups) return;
    uint first = group * GROUP;
    uint first_column = (params.first_group + group) % params.groups_per_row * GROUP;
    uint out_at = group * GROUP_BYTES;

    uint record = choose_record(first, first_column);
    int zero = int(record >> 16);
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
