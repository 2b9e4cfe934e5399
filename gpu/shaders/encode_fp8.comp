#version 450
// f32 -> OCP FP8, E4M3 or E5M2 (spec constant 1), one value per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/minifloat.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(constant_id = 1) const bool E5M2 = false;
layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer Target { uint8_t target[]; };
layout(push_constant) uniform Params { uint values; } params;

void main() {
    uint i = linear_invocation();
    if (i >= params.values) return;
    float x = source[i];
    target[i] = uint8_t(E5M2 ? fp32_to_e5m2(x) : fp32_to_e4m3(x));
}
