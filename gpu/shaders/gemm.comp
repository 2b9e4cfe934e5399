#version 450
// C = A · Wᵀ for prompt processing: A holds TOKENS rows of f32 activations (d_in values each), W one
// slab of output rows in any stored format, decoded on the fly (common/dequant.glsl) into shared memory
// tiles; C rows are c_stride apart and the slab's outputs start at column c_offset. A workgroup of 64
// computes a 64 x 64 tile of C (8 x 8 per thread, few barriers per multiply-add: 4x faster than 4 x 4
// on lavapipe), walking d_in in steps of 32.
// Loop budget: llvmpipe (lavapipe 22.3) silently ends every loop of an invocation once its loops have run
// 65,535 iterations in all. Here an invocation runs about 67 per step of 32 (the tile loads' 32 and the
// multiply-adds' 32, each with its exit test; the 8 x 8 loops are unrolled), so one dispatch summing all of
// d_in lost terms past about 31,300 (measured: 57,344-long rows summed their first ~31,400 values). A
// dispatch therefore covers d_in [k_begin, k_end) only, at most kGemmDepthPerDispatch (16,384: about
// 34,300 iterations) in gpu/matmul_kernels.cpp, and adds its sums to C's (accumulate) after the first:
// C = ((Σ slice 1) + Σ slice 2) + ..., in a fixed order.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Activations { float a[]; };
layout(std430, binding = 1) readonly buffer Weights { uint8_t weights[]; };
layout(std430, binding = 2) buffer Products { float c[]; };
#define BLOCK_BYTES weights
#include "common/dequant.glsl"

layout(local_size_x = 64) in;
const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"

const uint TILE = 64u;  // tokens and outputs per workgroup
const uint STEP = 32u;  // d_in per shared-memory round
const uint PER_THREAD = 8u;

layout(push_constant) uniform Params {
    uint tokens;
    uint outputs;    // rows of the W slab
    uint depth;      // d_in
    uint row_bytes;  // of W
    uint c_stride;
    uint c_offset;
    uint tiles_x;    // ceil(outputs / TILE)
    uint k_begin;    // this dispatch's share of d_in: a multiple of STEP
    uint k_end;
    uint accumulate; // nonzero: C += the sums, else C = the sums
} params;

shared float a_tile[STEP][TILE + 1u];
shared float w_tile[STEP][TILE + 1u];

void main() {
    uint tile_out = linear_group() % params.tiles_x;
    uint tile_token = linear_group() / params.tiles_x;
    uint first_token = tile_token * TILE;
    uint first_out = tile_out * TILE;
    if (first_token >= params.tokens) return;
    uint thread = gl_LocalInvocationID.x;
    uint my_tokens = thread / (TILE / PER_THREAD) * PER_THREAD;
    uint my_outs = thread % (TILE / PER_THREAD) * PER_THREAD;

    float sums[PER_THREAD][PER_THREAD];
    for (uint i = 0u; i < PER_THREAD; ++i)
        for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] = 0.0;

    for (uint k0 = params.k_begin; k0 < params.k_end; k0 += STEP) {
        for (uint at = thread; at < TILE * STEP; at += WORKGROUP_SIZE) {
            uint row = at / STEP, k = k0 + at % STEP;
            uint token = first_token + row, out_row = first_out + row;
            a_tile[at % STEP][row] = token < params.tokens && k < params.k_end ? a[token * params.depth + k] : 0.0;
            w_tile[at % STEP][row] = out_row < params.outputs && k < params.k_end
                                         ? unit_value(out_row * params.row_bytes + k / UNIT_VALUES * UNIT_BYTES, k % UNIT_VALUES)
                                         : 0.0;
        }
        barrier();
        for (uint k = 0u; k < STEP; ++k) {
            float a_values[PER_THREAD], w_values[PER_THREAD];
            for (uint i = 0u; i < PER_THREAD; ++i) {
                a_values[i] = a_tile[k][my_tokens + i];
                w_values[i] = w_tile[k][my_outs + i];
            }
            for (uint i = 0u; i < PER_THREAD; ++i)
                for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] += a_values[i] * w_values[j];
        }
        barrier();
    }

    for (uint i = 0u; i < PER_THREAD; ++i) {
        uint token = first_token + my_tokens + i;
        for (uint j = 0u; j < PER_THREAD; ++j) {
            uint out_row = first_out + my_outs + j;
            if (token < params.tokens && out_row < params.outputs) {
                uint at = token * params.c_stride + params.c_offset + out_row;
                c[at] = params.accumulate != 0u ? c[at] + sums[i][j] : sums[i][j];
            }
        }
    }
}
