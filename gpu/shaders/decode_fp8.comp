#version 450
// OCP FP8, E4M3 or E5M2 (spec constant 1) -> f32, one value per invocation.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/minifloat.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(constant_id = 1) const bool E5M2 = false;
layout(std430, binding = 0) readonly buffer Source { uint8_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };
layout(push_constant) uniform Params { uint values; } params;

void main() {
    uint i = linear_invocation();
    if (i >= params.values) return;
    uint code = uint(source[i]);
    target[i] = E5M2 ? e5m2_to_fp32(code) : e4m3_to_fp32(code);
}
