#version 450
// f32 -> iq4_xs (256 values) or iq4_nl (32 values) blocks (TYPE below), one invocation per block, with the
// encoders of core/formulas/iq4.inc: x^2 weighting, or (when the push constants say so) the importance
// vector of the block's columns as llama-quantize uses an imatrix.
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
#include "core/formulas/iq4.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TYPE = 0u;
const uint IQ4_XS = 0u, IQ4_NL = 1u;
const uint VALUES = TYPE == IQ4_NL ? 32u : 256u;
const uint BYTES = TYPE == IQ4_XS ? 136u : 18u;

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
    if (TYPE == IQ4_XS) {
        float x[256], w[256];
        for (uint j = 0u; j < 256u; ++j) {
            x[j] = source[block * VALUES + j];
            w[j] = weighted ? importance[column + j] : 0.0;
        }
        uint bytes[136];
        iq4_xs_encode_block(x, w, weighted, bytes);
        for (uint j = 0u; j < BYTES; ++j) target[block * BYTES + j] = uint8_t(bytes[j]);
    } else {
        float x[32], w[32];
        for (uint j = 0u; j < 32u; ++j) {
            x[j] = source[block * VALUES + j];
            w[j] = weighted ? importance[column + j] : 0.0;
        }
        uint bytes[18];
        iq4_nl_encode_block(x, w, weighted, bytes);
        for (uint j = 0u; j < BYTES; ++j) target[block * BYTES + j] = uint8_t(bytes[j]);
    }
}
