// Integer-grid group layout (core/quant/int_grid.cpp, g<N> formats): per group of GROUP values
// [f16 scale][u8 zero point if ASYMMETRIC][codes of BITS bits, LSB-first, the last byte zero-padded].
// One invocation per group. Specialization constants: 0 workgroup size, 1 bits, 2 group, 3 asymmetric.
#extension GL_EXT_shader_8bit_storage : require
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/int_grid.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const int BITS = 4;
layout(constant_id = 2) const uint GROUP = 32u;
layout(constant_id = 3) const bool ASYMMETRIC = false;
const uint RECORD_BYTES = ASYMMETRIC ? 3u : 2u;
const uint GROUP_BYTES = RECORD_BYTES + (uint(BITS) * GROUP + 7u) / 8u;

layout(push_constant) uniform Params { uint groups; } params;
