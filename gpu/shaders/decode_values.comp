#version 450
// Registry format -> f32 (common/dequant.glsl), one value per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { uint8_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };
#define BLOCK_BYTES source
#include "common/dequant.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(push_constant) uniform Params { uint values; } params;

void main() {
    uint i = linear_invocation();
    if (i < params.values) target[i] = stored_value(i);
}
