#version 450
// Mean of x^2 over each row (ggml's sigma2 of the importance weights: the float sum in index order,
// divided by the row length), one invocation per row.
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
    for (uint i = 0u; i < params.cols; ++i) {
        float x = source[row * params.cols + i];
        precise float square = x * x;
        sum += square;
    }
    mean_square[row] = div_exact(sum, float(params.cols));
}
