#version 450
// f32 -> 256-value K-quant super-blocks (TYPE below), one invocation per sub-block (32 values for q4_k and
// q5_k, 16 for q2_k, q3_k and q6_k), a super-block's sub-blocks side by side in one workgroup, with the
// functions of core/formulas/kquants.inc: each invocation searches its sub-block's scale (each type's
// reference weighting, or, when the push constants say so, the importance vector of the columns as
// llama-quantize uses an imatrix) and shares it through shared memory; every invocation of a super-block
// then runs the super-block's scale pass (the same for all of them), requantizes its own codes and shares
// them; each then stores its part of the block's bytes.
// Every loop an invocation runs over values is short (16 or 32 values, where the whole super-block in one
// invocation had 256-value private arrays: per-lane memory on llvmpipe, registers spilled on GPUs, and 8 or
// 16 times fewer invocations). The output is byte-identical to the CPU's encoders (tst_gpu_codecs).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Target { uint8_t target[]; };  // read by the formulas' decoders only
layout(std430, binding = 2) readonly buffer Importance { float importance[]; };
// The same buffers read 4 floats at a time (a buffer access costs the same per lane whatever its width on
// llvmpipe; sub-blocks and columns start at multiples of 16 values).
layout(std430, binding = 0) readonly buffer Source4 { vec4 source4[]; };
layout(std430, binding = 2) readonly buffer Importance4 { vec4 importance4[]; };
#define BLOCK_BYTES target
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/gguf_legacy.inc"
#include "core/formulas/scale_search.inc"
#include "core/formulas/kquants.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;  // a multiple of 16: whole super-blocks
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TYPE = 0u;
const uint Q4_K = 0u, Q6_K = 1u, Q5_K = 2u, Q2_K = 3u, Q3_K = 4u;
const bool AFFINE = TYPE == Q4_K || TYPE == Q5_K;
const uint GROUP = AFFINE ? 32u : 16u;  // values of a sub-block: one invocation
const uint GROUPS = 256u / GROUP;       // sub-blocks of a super-block
const uint BYTES = TYPE == Q4_K ? 144u : TYPE == Q6_K ? 210u : TYPE == Q5_K ? 176u : TYPE == Q2_K ? 84u : 110u;

layout(push_constant) uniform Params {
    uint blocks;
    uint first_block;  // of the chunk, counted from the tensor's start
    uint blocks_per_row;
    uint weighted;     // 1: importance holds one weight per column
} params;

// Per invocation: its sub-block's search results; its final codes, 4 per word (a super-block's 256 codes
// are 64 consecutive words).
shared float found_scale[WORKGROUP_SIZE];
shared float found_min[WORKGROUP_SIZE];
shared float found_weight[WORKGROUP_SIZE];
shared uint shared_codes[WORKGROUP_SIZE * 8u];

// Code v (0..255) of the super-block whose codes start at word `first`.
uint code(uint first, uint v) { return (shared_codes[first + v / 4u] >> (8u * (v % 4u))) & 0xffu; }

void main() {
    uint lane = gl_LocalInvocationID.x;
    uint unit = linear_invocation();
    uint block = unit / GROUPS;
    uint g = unit % GROUPS;  // also lane % GROUPS
    uint first_lane = lane - g;
    bool in_range = block < params.blocks;  // the others only take part in the barriers
    bool weighted = params.weighted != 0u;

    // The sub-block and its weights (x[0..GROUP)).
    float x[32], w[32];
    for (uint i = 0u; i < 32u; ++i) {
        x[i] = 0.0;
        w[i] = 0.0;
    }
    if (in_range) {
        for (uint i = 0u; i < GROUP / 4u; ++i) {
            vec4 v = source4[(block * 256u + g * GROUP) / 4u + i];
            for (uint k = 0u; k < 4u; ++k) x[4u * i + k] = v[k];
        }
        uint column = (params.first_block + block) % params.blocks_per_row * 256u + g * GROUP;
        float imp[32];
        if (weighted)
            for (uint i = 0u; i < GROUP / 4u; ++i) {
                vec4 v = importance4[column / 4u + i];
                for (uint k = 0u; k < 4u; ++k) imp[4u * i + k] = v[k];
            }
        if (TYPE == Q6_K) {
            for (uint i = 0u; i < 16u; ++i) w[i] = weighted ? imp[i] : x[i] * x[i];
        } else if (weighted) {
            float sum = 0.0;  // of the whole super-block, in index order
            for (uint i = 0u; i < 64u; ++i) {
                vec4 v = source4[block * 64u + i];
                for (uint k = 0u; k < 4u; ++k) {
                    precise float square = v[k] * v[k];
                    sum += square;
                }
            }
            float sigma2 = k_importance_sigma2(sum, TYPE == Q2_K ? 1.0 : 2.0);
            for (uint i = 0u; i < GROUP; ++i) w[i] = search_weight(x[i], imp[i], sigma2);
        }
    }

    // The sub-block's search.
    uint L[32];
    float found[3];
    if (AFFINE) k_affine_search_group(TYPE == Q4_K ? 4 : 5, x, w, weighted, L, found);
    else if (TYPE == Q2_K) q2_k_search_group(x, w, weighted, L, found);
    else if (TYPE == Q3_K) q3_k_search_group(x, w, weighted, L, found);
    else {
        found[0] = search_symmetric_scale(x, w, 16, 32, L);
        found[1] = 0.0;
        found[2] = 0.0;
    }
    found_scale[lane] = found[0];
    found_min[lane] = found[1];
    found_weight[lane] = found[2];
    barrier();

    // The super-block's scale pass (every invocation of the super-block computes it), then the sub-block's
    // codes against its scale as stored. head: the block's bytes other than codes, from byte head_at.
    uint head[16];
    uint head_at = 0u;
    uint head_bytes = 0u;
    uint tail_bits = 0u;  // f16 d (and dmin << 16) where they are not in head
    float x16[16];
    uint L16[16];
    for (uint i = 0u; i < 16u; ++i) {
        x16[i] = x[i];
        L16[i] = L[i];
    }
    if (AFFINE) {
        float scales[8], mins[8], weights[8];
        for (uint j = 0u; j < 8u; ++j) {
            scales[j] = found_scale[first_lane + j];
            mins[j] = found_min[first_lane + j];
            weights[j] = found_weight[first_lane + j];
        }
        uint ls[8], lm[8];
        float d_dmin[2];
        if (weighted) k_affine_weighted_scales(scales, mins, weights, ls, lm, d_dmin);
        else k_affine_plain_scales(scales, mins, ls, lm, d_dmin);
        k_affine_header(ls, lm, d_dmin, head);
        head_bytes = 16u;
        k_affine_group_codes(TYPE == Q4_K ? 4 : 5, x, head, int(g), L);
    } else {
        float scales[16];
        for (uint j = 0u; j < 16u; ++j) scales[j] = found_scale[first_lane + j];
        if (TYPE == Q2_K) {
            float mins[16], weights[16];
            for (uint j = 0u; j < 16u; ++j) {
                mins[j] = found_min[first_lane + j];
                weights[j] = found_weight[first_lane + j];
            }
            float d_dmin[2];
            if (weighted) q2_k_weighted_scales(scales, mins, weights, head, d_dmin);
            else q2_k_plain_scales(scales, mins, head, d_dmin);
            head_bytes = 16u;
            tail_bits = fp32_to_fp16_bits(d_dmin[0]) | (fp32_to_fp16_bits(d_dmin[1]) << 16);
            q2_k_group_codes(x16, head[g], tail_bits, L16);
        } else if (TYPE == Q3_K) {
            uint stored[16];
            float d;
            if (!weighted) d = q3_k_plain_scales(scales, stored);
            else {
                float scale_x[32], scale_w[32];
                uint scale_codes[32];
                for (uint j = 0u; j < 32u; ++j) {
                    scale_x[j] = j < 16u ? scales[j] : 0.0;
                    scale_w[j] = j < 16u ? found_weight[first_lane + j] : 0.0;
                }
                d = search_symmetric_scale(scale_x, scale_w, 16, 32, scale_codes);
                for (uint j = 0u; j < 16u; ++j) stored[j] = scale_codes[j];
            }
            uint scale_bytes[12];
            q3_k_scale_bytes(stored, scale_bytes);
            for (uint k = 0u; k < 16u; ++k) head[k] = k < 12u ? scale_bytes[k] : 0u;
            head_at = 96u;
            head_bytes = 12u;
            tail_bits = fp32_to_fp16_bits(d);
            q3_k_group_codes(x16, stored[g], tail_bits, L16);
        } else {
            uint d_bits[1];
            if (q6_k_scale_codes(scales, head, d_bits)) q6_k_group_codes(x16, head[g], d_bits[0], L16);
            else
                for (uint i = 0u; i < 16u; ++i) L16[i] = 0u;
            head_at = 192u;
            head_bytes = 16u;
            tail_bits = d_bits[0];
        }
        for (uint i = 0u; i < 16u; ++i) L[i] = L16[i];
    }
    for (uint k = 0u; k < GROUP / 4u; ++k)
        shared_codes[lane * (GROUP / 4u) + k] =
            L[4u * k] | (L[4u * k + 1u] << 8) | (L[4u * k + 2u] << 16) | (L[4u * k + 3u] << 24);
    barrier();
    if (!in_range) return;

    // This invocation's part of the block's bytes; the first one of a super-block also stores its head.
    uint at = block * BYTES;
    uint first = first_lane * (GROUP / 4u);
    if (g == 0u) {
        for (uint k = 0u; k < 16u; ++k)
            if (k < head_bytes) target[at + head_at + k] = uint8_t(head[k]);
        if (TYPE == Q2_K)
            for (uint k = 0u; k < 4u; ++k) target[at + 80u + k] = uint8_t((tail_bits >> (8u * k)) & 0xffu);
        if (TYPE == Q3_K || TYPE == Q6_K)
            for (uint k = 0u; k < 2u; ++k) target[at + BYTES - 2u + k] = uint8_t((tail_bits >> (8u * k)) & 0xffu);
    }
    if (AFFINE) {
        // qs: in each 64 values byte j holds values j (low nibble) and j + 32; this invocation: 16 of a pair's 32.
        uint nibbles = TYPE == Q4_K ? 16u : 48u;
        uint pair = g / 2u;
        for (uint i = 0u; i < 16u; ++i) {
            uint j = 16u * (g % 2u) + i;
            uint lo = code(first, 64u * pair + j);
            uint hi = code(first, 64u * pair + 32u + j);
            target[at + nibbles + 32u * pair + j] = uint8_t((lo & 15u) | ((hi & 15u) << 4));
        }
        if (TYPE == Q5_K)  // qh: the fifth bit of value j + 32 k in bit k of byte j; this invocation: 4 bytes
            for (uint i = 0u; i < 4u; ++i) {
                uint j = 4u * g + i;
                uint high = 0u;
                for (uint k = 0u; k < 8u; ++k) high |= (code(first, 32u * k + j) >> 4) << k;
                target[at + 16u + j] = uint8_t(high);
            }
    } else {
        // In each 128 values, byte l of a 32-byte row holds values l, l + 32, l + 64, l + 96; this
        // invocation: l in 4 (g % 8) .. + 4 of the half g / 8.
        uint upper = g / 8u;
        for (uint i = 0u; i < 4u; ++i) {
            uint l = 4u * (g % 8u) + i;
            uint v = 128u * upper + l;
            uint q1 = code(first, v), q2 = code(first, v + 32u), q3 = code(first, v + 64u), q4 = code(first, v + 96u);
            if (TYPE == Q6_K) {
                target[at + 64u * upper + l] = uint8_t((q1 & 15u) | ((q3 & 15u) << 4));
                target[at + 64u * upper + l + 32u] = uint8_t((q2 & 15u) | ((q4 & 15u) << 4));
                target[at + 128u + 32u * upper + l] =
                    uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            } else {  // q2_k codes at 16, q3_k's low 2 bits at 32
                target[at + (TYPE == Q2_K ? 16u : 32u) + 32u * upper + l] =
                    uint8_t((q1 & 3u) | ((q2 & 3u) << 2) | ((q3 & 3u) << 4) | ((q4 & 3u) << 6));
            }
        }
        if (TYPE == Q3_K)  // hmask: bit k of byte l set for code(32 k + l) > 3; this invocation: 2 bytes
            for (uint i = 0u; i < 2u; ++i) {
                uint l = 2u * g + i;
                uint mask = 0u;
                for (uint k = 0u; k < 8u; ++k) mask |= (code(first, 32u * k + l) > 3u ? 1u : 0u) << k;
                target[at + l] = uint8_t(mask);
            }
    }
}
