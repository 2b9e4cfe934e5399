// One invocation per block of a fixed-size block format. The including shader defines BLOCK_VALUES,
// BLOCK_BYTES and either ENCODE_BLOCK or DECODE_BLOCK (a core/formulas function taking/producing the
// block as floats and as bytes), then includes this file.
#extension GL_EXT_shader_8bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/gguf_legacy.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(push_constant) uniform Params { uint blocks; } params;

#ifdef ENCODE_BLOCK
layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer Target { uint8_t target[]; };

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    float values[BLOCK_VALUES];
    for (uint j = 0u; j < BLOCK_VALUES; ++j) values[j] = source[block * BLOCK_VALUES + j];
    uint bytes[BLOCK_BYTES];
    ENCODE_BLOCK(values, bytes);
    for (uint j = 0u; j < BLOCK_BYTES; ++j) target[block * BLOCK_BYTES + j] = uint8_t(bytes[j]);
}
#else
layout(std430, binding = 0) readonly buffer Source { uint8_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };

void main() {
    uint block = linear_invocation();
    if (block >= params.blocks) return;
    uint bytes[BLOCK_BYTES];
    for (uint j = 0u; j < BLOCK_BYTES; ++j) bytes[j] = uint(source[block * BLOCK_BYTES + j]);
    float values[BLOCK_VALUES];
    DECODE_BLOCK(bytes, values);
    for (uint j = 0u; j < BLOCK_VALUES; ++j) target[block * BLOCK_VALUES + j] = values[j];
}
#endif
