#version 450
// f32 -> a 256-value K-quant or iq4 block (TYPE below; iq4_nl: 32 values), one invocation per block, with
// the encoders of core/formulas/kquants.inc and iq4.inc: each type's reference weighting, or (when the
// push constants say so) the importance vector of the block's columns as llama-quantize uses an imatrix.
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
#include "core/formulas/gguf_legacy.inc"
#include "core/formulas/scale_search.inc"
#include "core/formulas/kquants.inc"
#include "core/formulas/iq4.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TYPE = 0u;
const uint Q4_K = 0u, Q6_K = 1u, Q5_K = 2u, Q2_K = 3u, Q3_K = 4u, IQ4_XS = 5u, IQ4_NL = 6u;
const uint VALUES = TYPE == IQ4_NL ? 32u : 256u;
const uint BYTES = TYPE == Q4_K ? 144u : TYPE == Q6_K ? 210u : TYPE == Q5_K ? 176u : TYPE == Q2_K ? 84u
                 : TYPE == Q3_K ? 110u : TYPE == IQ4_XS ? 136u : 18u;

layout(push_constant) uniform Params {
    uint blocks;
    uint first_block;  // of the chunk, counted from the tensor's start
    uint blocks_per_row;
    uint weighted;     // 1: importance holds one weight per column
} params;

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    uint column = (params.first_block + block) % params.blocks_per_row * VALUES;
    bool weighted = params.weighted != 0u;
    float x[256], w[256];
    for (uint j = 0u; j < VALUES; ++j) {
        x[j] = source[block * VALUES + j];
        w[j] = weighted ? importance[column + j] : 0.0;
    }
    uint bytes[210];
    if (TYPE == Q4_K || TYPE == Q5_K) {
        uint k_bytes[176];
        k_affine_encode_block(TYPE == Q4_K ? 4 : 5, x, w, weighted, k_bytes);
        for (uint j = 0u; j < BYTES; ++j) bytes[j] = k_bytes[j];
    } else if (TYPE == Q6_K) {
        if (!weighted)
            for (uint j = 0u; j < 256u; ++j) w[j] = x[j] * x[j];
        q6_k_encode_block(x, w, bytes);
    } else if (TYPE == Q2_K) {
        uint q2_bytes[84];
        q2_k_encode_block(x, w, weighted, q2_bytes);
        for (uint j = 0u; j < 84u; ++j) bytes[j] = q2_bytes[j];
    } else if (TYPE == Q3_K) {
        uint q3_bytes[110];
        q3_k_encode_block(x, w, weighted, q3_bytes);
        for (uint j = 0u; j < 110u; ++j) bytes[j] = q3_bytes[j];
    } else if (TYPE == IQ4_XS) {
        uint xs_bytes[136];
        iq4_xs_encode_block(x, w, weighted, xs_bytes);
        for (uint j = 0u; j < 136u; ++j) bytes[j] = xs_bytes[j];
    } else {
        float x32[32], w32[32];
        for (uint j = 0u; j < 32u; ++j) {
            x32[j] = x[j];
            w32[j] = w[j];
        }
        uint nl_bytes[18];
        iq4_nl_encode_block(x32, w32, weighted, nl_bytes);
        for (uint j = 0u; j < 18u; ++j) bytes[j] = nl_bytes[j];
    }
    for (uint j = 0u; j < BYTES; ++j) target[block * BYTES + j] = uint8_t(bytes[j]);
}
