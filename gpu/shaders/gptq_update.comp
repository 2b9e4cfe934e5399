#version 450
// GPTQ's lazy batch update (core/algo/gptq.h) on one slab of W's rows: W[:, col_begin:col_end] -=
// E · U, E the block's scaled errors (all rows x depth, the slab's first at first_row) and U the block's
// rows of the inverse Hessian factor from column u_first_col on (depth x u_stride). With `panel` set the
// updated columns are also written compactly (all rows x (col_end - col_begin)) for the host to read.
// Same arithmetic as the CPU's subtract_product (core/algo/linalg.cpp): per element, fused multiply-adds
// in depth order into a sum that is subtracted from W and restarted every SLICE, so the results are
// bit-identical where the device fuses fma() (lavapipe lowers it to a multiply and an add: one more
// rounding per term, see gpu/gptq_kernel.h). A workgroup of 64 computes a 64 x 64 tile (8 x 8 per
// thread, as gemm.comp), walking the depth in steps of 32 through shared memory.
// Loop budget: llvmpipe (lavapipe 22.3) silently ends every loop of an invocation once its loops have run
// 65,535 iterations in all. An invocation runs about 67 per step of 32 of the depth (as gemm.comp): blocks
// up to about 31,000 columns. The columns are spread over workgroups and do not count. On lavapipe the
// block's rows of U must fit one 128 MiB binding (can_update_gptq_on: block x cols floats, block <= cols),
// so the block is at most 5,792 columns there, about 12,200 iterations; a block of 1024 is tested.
#extension GL_GOOGLE_include_directive : require

layout(std430, binding = 0) buffer Weights { float w[]; };           // slab rows x w_stride
layout(std430, binding = 1) readonly buffer Errors { float e[]; };   // rows x depth
layout(std430, binding = 2) readonly buffer Factor { float u[]; };   // depth x u_stride
layout(std430, binding = 3) writeonly buffer Panel { float panel[]; };

layout(local_size_x = 64) in;
const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"

const uint TILE = 64u;    // rows and columns per workgroup
const uint STEP = 32u;    // depth per shared-memory round
const uint SLICE = 128u;  // linalg.cpp's kPanel: the sum restarts every SLICE of depth
const uint PER_THREAD = 8u;

layout(push_constant) uniform Params {
    uint rows;         // of the slab
    uint first_row;    // the slab's first row in E and the panel
    uint w_stride;     // W's row length
    uint col_begin;    // columns of W to update
    uint col_end;
    uint depth;        // block width
    uint u_first_col;  // W column of U's first column
    uint u_stride;
    uint panel_on;     // nonzero: also write the panel
    uint tiles_x;      // ceil((col_end - col_begin) / TILE)
} params;

shared float e_tile[STEP][TILE + 1u];
shared float u_tile[STEP][TILE + 1u];

void main() {
    uint tile_col = linear_group() % params.tiles_x;
    uint tile_row = linear_group() / params.tiles_x;
    uint first_row = tile_row * TILE;
    uint first_col = params.col_begin + tile_col * TILE;
    if (first_row >= params.rows) return;
    uint thread = gl_LocalInvocationID.x;
    uint my_rows = thread / (TILE / PER_THREAD) * PER_THREAD;
    uint my_cols = thread % (TILE / PER_THREAD) * PER_THREAD;

    precise float sums[PER_THREAD][PER_THREAD];
    for (uint i = 0u; i < PER_THREAD; ++i)
        for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] = 0.0;

    for (uint k0 = 0u; k0 < params.depth; k0 += STEP) {
        for (uint at = thread; at < TILE * STEP; at += WORKGROUP_SIZE) {  // E along its rows, U along its columns
            uint index = at / STEP, k = k0 + at % STEP, row = first_row + index;
            e_tile[at % STEP][index] = row < params.rows && k < params.depth ? e[(params.first_row + row) * params.depth + k] : 0.0;
            uint u_k = k0 + at / TILE, col = first_col + at % TILE;
            u_tile[at / TILE][at % TILE] = col < params.col_end && u_k < params.depth ? u[u_k * params.u_stride + col - params.u_first_col] : 0.0;
        }
        barrier();
        uint steps = min(STEP, params.depth - k0);
        for (uint k = 0u; k < steps; ++k) {
            float e_values[PER_THREAD], u_values[PER_THREAD];
            for (uint i = 0u; i < PER_THREAD; ++i) {
                e_values[i] = e_tile[k][my_rows + i];
                u_values[i] = u_tile[k][my_cols + i];
            }
            for (uint i = 0u; i < PER_THREAD; ++i)
                for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] = fma(e_values[i], u_values[j], sums[i][j]);
        }
        barrier();
        uint done = k0 + steps;
        if (done % SLICE == 0u || done == params.depth) {
            for (uint i = 0u; i < PER_THREAD; ++i) {
                uint row = first_row + my_rows + i;
                for (uint j = 0u; j < PER_THREAD; ++j) {
                    uint col = first_col + my_cols + j;
                    if (row < params.rows && col < params.col_end) {
                        uint at = row * params.w_stride + col;
                        w[at] = w[at] - sums[i][j];
                    }
                    sums[i][j] = 0.0;
                }
            }
        }
    }

    if (params.panel_on == 0u) return;
    uint panel_width = params.col_end - params.col_begin;
    for (uint i = 0u; i < PER_THREAD; ++i) {
        uint row = first_row + my_rows + i;
        for (uint j = 0u; j < PER_THREAD; ++j) {
            uint col = first_col + my_cols + j;
            if (row < params.rows && col < params.col_end)
                panel[(params.first_row + row) * panel_width + col - params.col_begin] = w[row * params.w_stride + col];
        }
    }
}
