#version 450
// f32 -> q4_k (TYPE 0, without an importance vector) or q6_k (TYPE 1; weights x^2, or the importance
// vector of the columns when the push constants say there is one), one invocation per 256-value
// super-block, with the encoders of core/formulas/kquants.inc.
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
#include "core/formulas/scale_search.inc"
#include "core/formulas/kquants.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TYPE = 0u;
const uint Q4_K = 0u, Q6_K = 1u;

layout(push_constant) uniform Params {
    uint blocks;
    uint first_block;  // of the chunk, counted from the tensor's start
    uint blocks_per_row;
    uint weighted;     // 1: importance holds one weight per column
} params;

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    uint column = (params.first_block + block) % params.blocks_per_row * 256u;
    float x[256];
    for (uint j = 0u; j < 256u; ++j) x[j] = source[block * 256u + j];
    if (TYPE == Q4_K) {
        uint bytes[144];
        q4_k_encode_block(x, bytes);
        for (uint j = 0u; j < 144u; ++j) target[block * 144u + j] = uint8_t(bytes[j]);
        return;
    }
    float w[256];
    for (uint j = 0u; j < 256u; ++j) w[j] = params.weighted != 0u ? importance[column + j] : x[j] * x[j];
    uint bytes[210];
    q6_k_encode_block(x, w, bytes);
    for (uint j = 0u; j < 210u; ++j) target[block * 210u + j] = uint8_t(bytes[j]);
}
