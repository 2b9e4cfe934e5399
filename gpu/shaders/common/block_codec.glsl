// Encoder of a ggml legacy block type, one invocation per block. The including shader defines
// BLOCK_VALUES, BLOCK_BYTES_COUNT and ENCODE_BLOCK (a core/formulas/gguf_legacy.inc function taking the
// block's values and producing its bytes), then includes this file.
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Target { uint8_t target[]; };  // read by the formulas' decoders only
#define BLOCK_BYTES target
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/gguf_legacy.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(push_constant) uniform Params { uint blocks; } params;

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    float values[BLOCK_VALUES];
    for (uint j = 0u; j < BLOCK_VALUES; ++j) values[j] = source[block * BLOCK_VALUES + j];
    uint bytes[BLOCK_BYTES_COUNT];
    ENCODE_BLOCK(values, bytes);
    for (uint j = 0u; j < BLOCK_BYTES_COUNT; ++j) target[block * BLOCK_BYTES_COUNT + j] = uint8_t(bytes[j]);
}
