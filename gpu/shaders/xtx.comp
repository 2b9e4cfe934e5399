#version 450
// Hessian accumulation H += XᵀX over one block of calibration tokens (X: tokens x dim f32, row-major).
// A workgroup of 64 computes a 64 x 64 tile of H (8 x 8 per thread) as f32 sums over the block's
// tokens, then adds them into the f64 matrix: the tokens of a block are at most the host's block size,
// so every f32 sum has at most that many terms, as on the CPU (core/analysis/hessian.h). H is stored in
// slabs of rows; this dispatch covers rows [first_row, first_row + slab_rows) and only tiles that reach
// the upper triangle (col >= row), which the host mirrors.
// Loop budget: an invocation runs tokens/STEP x (16 + STEP x (1 + PER_THREAD + PER_THREAD²)) + 144 loop
// iterations if none is unrolled, 37,888 + 144 for a 512-token block: below the 65,535 after which llvmpipe
// (lavapipe 22.3) silently ends every loop of the invocation. Blocks above about 880 tokens would lose sums
// there; the host's block (HessianAccumulator::kTokensPerProduct) is 512.
#extension GL_GOOGLE_include_directive : require

layout(std430, binding = 0) readonly buffer Tokens { float x[]; };
layout(std430, binding = 1) buffer Hessian { double h[]; };  // slab_rows x dim

layout(local_size_x = 64) in;
const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"

const uint TILE = 64u;
const uint STEP = 16u;  // tokens per shared-memory round
const uint PER_THREAD = 8u;

layout(push_constant) uniform Params {
    uint tokens;
    uint dim;
    uint first_row;
    uint slab_rows;
    uint tiles_x;  // ceil(dim / TILE)
} params;

shared float row_tile[STEP][TILE];
shared float col_tile[STEP][TILE];

void main() {
    uint first_col = linear_group() % params.tiles_x * TILE;
    uint first_row = params.first_row + linear_group() / params.tiles_x * TILE;
    uint slab_end = params.first_row + params.slab_rows;
    if (first_row >= slab_end || first_col + TILE <= first_row) return;  // below the diagonal
    uint thread = gl_LocalInvocationID.x;
    uint my_rows = thread / (TILE / PER_THREAD) * PER_THREAD;
    uint my_cols = thread % (TILE / PER_THREAD) * PER_THREAD;

    float sums[PER_THREAD][PER_THREAD];
    for (uint i = 0u; i < PER_THREAD; ++i)
        for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] = 0.0;

    for (uint t0 = 0u; t0 < params.tokens; t0 += STEP) {
        for (uint at = thread; at < TILE * STEP; at += WORKGROUP_SIZE) {
            uint t = t0 + at / TILE, i = at % TILE;
            bool token = t < params.tokens;
            row_tile[at / TILE][i] = token && first_row + i < slab_end ? x[t * params.dim + first_row + i] : 0.0;
            col_tile[at / TILE][i] = token && first_col + i < params.dim ? x[t * params.dim + first_col + i] : 0.0;
        }
        barrier();
        for (uint t = 0u; t < STEP; ++t)
            for (uint i = 0u; i < PER_THREAD; ++i)
                for (uint j = 0u; j < PER_THREAD; ++j) sums[i][j] += row_tile[t][my_rows + i] * col_tile[t][my_cols + j];
        barrier();
    }

    for (uint i = 0u; i < PER_THREAD; ++i) {
        uint row = first_row + my_rows + i;
        for (uint j = 0u; j < PER_THREAD; ++j) {
            uint col = first_col + my_cols + j;
            if (row < slab_end && col < params.dim && col >= row) h[(row - params.first_row) * params.dim + col] += double(sums[i][j]);
        }
    }
}
