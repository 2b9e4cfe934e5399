#version 450
// C = A · Wᵀ for a few tokens (generation): each subgroup takes whole output rows of the W slab (any
// stored format, decoded on the fly by common/dequant.glsl), its lanes striding over d_in with one
// partial sum per token, then adds the lanes' sums. A workgroup covers ROWS output rows whatever the
// subgroup size. Same push constants as gemm.comp; TOKENS (1-8) is specialization constant 6.
// Loop budget (llvmpipe ends an invocation's loops after 65,535 iterations in all): an invocation runs
// about d_in / subgroup size iterations (the TOKENS loops are unrolled), 32,768 for d_in = 262,144 with
// lavapipe's 8 lanes (measured: every term summed there), so rows up to about 500,000 values.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(std430, binding = 0) readonly buffer Activations { float a[]; };
layout(std430, binding = 1) readonly buffer Weights { uint8_t weights[]; };
layout(std430, binding = 2) writeonly buffer Products { float c[]; };
#define BLOCK_BYTES weights
#include "common/dequant.glsl"

layout(local_size_x = 64) in;
const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 6) const uint TOKENS = 1u;
const uint ROWS = 8u;

layout(push_constant) uniform Params {
    uint tokens;  // == TOKENS
    uint outputs;
    uint depth;
    uint row_bytes;
    uint c_stride;
    uint c_offset;
    uint tiles_x;  // unused
    uint k_begin;  // unused: gemv.comp always sums all of d_in
    uint k_end;
    uint accumulate;
} params;

void main() {
    for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
        uint out_row = linear_group() * ROWS + r;
        if (out_row >= params.outputs) return;
        float sums[TOKENS];
        for (uint t = 0u; t < TOKENS; ++t) sums[t] = 0.0;
        uint row = out_row * params.row_bytes;
        for (uint k = gl_SubgroupInvocationID; k < params.depth; k += gl_SubgroupSize) {
            float w = unit_value(row + k / UNIT_VALUES * UNIT_BYTES, k % UNIT_VALUES);
            for (uint t = 0u; t < TOKENS; ++t) sums[t] += a[t * params.depth + k] * w;
        }
        for (uint t = 0u; t < TOKENS; ++t) {
            float sum = subgroupAdd(sums[t]);
            if (subgroupElect()) c[t * params.c_stride + params.c_offset + out_row] = sum;
        }
    }
}
