#version 450
// f16 or bf16 (spec constant 1) -> f32, one value per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(constant_id = 1) const bool BFLOAT16 = false;
layout(std430, binding = 0) readonly buffer Source { uint16_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };
layout(push_constant) uniform Params { uint values; } params;

void main() {
    uint i = linear_invocation();
    if (i >= params.values) return;
    uint h = uint(source[i]);
    target[i] = BFLOAT16 ? bf16_bits_to_fp32(h) : fp16_bits_to_fp32(h);
}
