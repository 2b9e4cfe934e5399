#version 450
// f32 -> f16 or bf16 (spec constant 1), one value per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(constant_id = 1) const bool BFLOAT16 = false;
layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer Target { uint16_t target[]; };
layout(push_constant) uniform Params { uint values; } params;

void main() {
    uint i = linear_invocation();
    if (i >= params.values) return;
    float x = source[i];
    target[i] = uint16_t(BFLOAT16 ? fp32_to_bf16_bits(x) : fp32_to_fp16_bits(x));
}
