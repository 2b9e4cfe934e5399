#version 450
// Registry format -> f32 (common/dequant.glsl), one value per invocation.
// Loop budget (llvmpipe ends an invocation's loops after 65,535 iterations in all): RUN values of one unit
// per invocation, whatever the tensor's size.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { uint8_t source[]; };
layout(std430, binding = 1) writeonly buffer Target { float target[]; };
layout(std430, binding = 1) writeonly buffer Target4 { vec4 target4[]; };  // the same buffer, for runs of 8
#define BLOCK_BYTES source
#include "common/dequant.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 256u;
#include "common/kernel.glsl"
layout(push_constant) uniform Params { uint values; } params;
// Values per invocation: RUN consecutive values of one unit (UNIT_VALUES a multiple of RUN), so that the
// unit's scales are read once per run where the compiler sees it (and fewer, wider invocations: each
// buffer access is per lane on llvmpipe).
layout(constant_id = 6) const uint RUN = 1u;

void main() {
    uint first = linear_invocation() * RUN;
    if (first >= params.values) return;
    uint unit = first / UNIT_VALUES * UNIT_BYTES;
    uint j = first % UNIT_VALUES;
    float v[8];
    if (RUN == 8u && (FORMAT == FORMAT_Q4_K || FORMAT == FORMAT_Q5_K)) k4_run_values(unit, FORMAT == FORMAT_Q4_K ? 4 : 5, int(j), v);
    else
        for (uint k = 0u; k < RUN; ++k) v[k] = unit_value(unit, j + k);
    if (RUN == 8u) {  // two 16-byte stores instead of 8 (each costs the same per lane on llvmpipe)
        target4[first / 4u] = vec4(v[0], v[1], v[2], v[3]);
        target4[first / 4u + 1u] = vec4(v[4], v[5], v[6], v[7]);
    } else {
        for (uint k = 0u; k < RUN; ++k) target[first + k] = v[k];
    }
}
