#version 450
// Mean of x^2 over each row (ggml's sigma2 of the importance weights: the float sum in index order,
// divided by the row length), one invocation per row.
// Loop budget: llvmpipe (lavapipe 22.3) silently ends every loop of an invocation once its loops have run
// 65,535 iterations in all; one value per iteration lost a row's values past its first 65,535 (Nemotron-4-
// 340B's ffn_down has 73,728). Four values per iteration, still in index order: cols / 4 + 4 iterations,
// rows up to about 262,000 values.
#extension GL_GOOGLE_include_directive : require
#include "common/formulas.glsl"

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer MeanSquares { float mean_square[]; };

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(push_constant) uniform Params { uint rows; uint cols; } params;

void main() {
    uint row = linear_invocation();
    if (row >= params.rows) return;
    precise float sum = 0.0;
    uint first = row * params.cols, i = 0u;
    for (; i + 4u <= params.cols; i += 4u) {
        vec4 x = vec4(source[first + i], source[first + i + 1u], source[first + i + 2u], source[first + i + 3u]);
        precise vec4 squares = x * x;
        sum += squares.x;
        sum += squares.y;
        sum += squares.z;
        sum += squares.w;
    }
    for (; i < params.cols; ++i) {
        float x = source[first + i];
        precise float square = x * x;
        sum += square;
    }
    mean_square[row] = div_exact(sum, float(params.cols));
}
