#version 450
// f32 -> q4_0, q4_1, q5_0 or q5_1 (TYPE 0-3) with an importance vector, as llama-quantize with an imatrix
// (ggml's quantize_row_q{4,5}_{0,1}_impl): per value the weight importance[column] * sqrt(sigma2 + x^2),
// sigma2 the row's mean square (row_mean_square.comp, run first on the chunk's whole rows), then the
// weighted scale search of core/formulas/scale_search.inc per block, stored by gguf_legacy.inc.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Target { uint8_t target[]; };  // read by the formulas' decoders only
layout(std430, binding = 2) readonly buffer Importance { float importance[]; };
layout(std430, binding = 3) readonly buffer MeanSquares { float mean_square[]; };
#define BLOCK_BYTES target
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/gguf_legacy.inc"
#include "core/formulas/scale_search.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TYPE = 0u;
const uint Q4_0 = 0u, Q4_1 = 1u, Q5_0 = 2u, Q5_1 = 3u;
const bool AFFINE = TYPE == Q4_1 || TYPE == Q5_1;
const int LEVELS = TYPE <= Q4_1 ? 16 : 32;
const uint BLOCK_BYTES_COUNT = TYPE == Q4_0 ? 18u : TYPE == Q4_1 ? 20u : TYPE == Q5_0 ? 22u : 24u;

layout(push_constant) uniform Params { uint blocks; uint blocks_per_row; } params;  // chunks start at a row

void store(uint block, float scale, float minimum, block_byte codes[32]) {
    uint bytes18[18], bytes20[20], bytes22[22], bytes24[24];
    uint at = block * BLOCK_BYTES_COUNT;
    if (TYPE == Q4_0) {
        q4_0_store_block(scale, codes, bytes18);
        for (uint j = 0u; j < 18u; ++j) target[at + j] = uint8_t(bytes18[j]);
    } else if (TYPE == Q4_1) {
        q4_1_store_block(scale, minimum, codes, bytes20);
        for (uint j = 0u; j < 20u; ++j) target[at + j] = uint8_t(bytes20[j]);
    } else if (TYPE == Q5_0) {
        q5_0_store_block(scale, codes, bytes22);
        for (uint j = 0u; j < 22u; ++j) target[at + j] = uint8_t(bytes22[j]);
    } else {
        q5_1_store_block(scale, minimum, codes, bytes24);
        for (uint j = 0u; j < 24u; ++j) target[at + j] = uint8_t(bytes24[j]);
    }
}

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    uint column = block % params.blocks_per_row * 32u;
    float sigma2 = mean_square[block / params.blocks_per_row];
    float x[32], w[32];
    for (uint j = 0u; j < 32u; ++j) {
        x[j] = source[block * 32u + j];
        w[j] = search_weight(x[j], importance[column + j], sigma2);
    }
    block_byte codes[32];
    if (AFFINE) {
        float scale_min[2];
        search_affine_scale(x, w, 32, LEVELS - 1, uintBitsToFloat(0xbf666666u), uintBitsToFloat(0x3d4ccccdu), 36, false,
                            codes, scale_min);  // rmin -0.9f, rdelta 0.05f
        store(block, scale_min[0], -scale_min[1], codes);
    } else {
        store(block, search_symmetric_scale(x, w, 32, LEVELS / 2, codes), 0.0, codes);
    }
}
