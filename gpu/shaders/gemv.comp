#version 450
// C = A · Wᵀ for a few tokens (generation): one workgroup per output row of the W slab (any stored
// format, decoded on the fly by common/dequant.glsl); its threads stride over d_in, each keeping one
// partial sum per token, then reduce them in shared memory. Same parameters as gemm.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Activations { float a[]; };
layout(std430, binding = 1) readonly buffer Weights { uint8_t weights[]; };
layout(std430, binding = 2) writeonly buffer Products { float c[]; };
#define BLOCK_BYTES weights
#include "common/dequant.glsl"

layout(local_size_x = 128) in;
const uint WORKGROUP_SIZE = 128u;
#include "common/kernel.glsl"
const uint MAX_TOKENS = 8u;

layout(push_constant) uniform Params {
    uint tokens;  // <= MAX_TOKENS
    uint outputs;
    uint depth;
    uint row_bytes;
    uint c_stride;
    uint c_offset;
    uint tiles_x;  // unused: one workgroup per output
} params;

shared float partial[MAX_TOKENS][WORKGROUP_SIZE];

void main() {
    uint out_row = linear_group();
    if (out_row >= params.outputs) return;
    uint thread = gl_LocalInvocationID.x;
    float sums[MAX_TOKENS];
    for (uint t = 0u; t < MAX_TOKENS; ++t) sums[t] = 0.0;
    uint row = out_row * params.row_bytes;
    for (uint k = thread; k < params.depth; k += WORKGROUP_SIZE) {
        float w = unit_value(row + k / UNIT_VALUES * UNIT_BYTES, k % UNIT_VALUES);
        for (uint t = 0u; t < MAX_TOKENS; ++t)
            if (t < params.tokens) sums[t] += a[t * params.depth + k] * w;
    }
    for (uint t = 0u; t < MAX_TOKENS; ++t) partial[t][thread] = sums[t];
    barrier();
    for (uint width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
        if (thread < width)
            for (uint t = 0u; t < MAX_TOKENS; ++t) partial[t][thread] += partial[t][thread + width];
        barrier();
    }
    if (thread < params.tokens) c[thread * params.c_stride + params.c_offset + out_row] = partial[thread][0];
}
