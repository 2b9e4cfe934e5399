// Stored value j of a unit of a registry format, read in place from the shader's BLOCK_BYTES buffer
// (declared by the including shader before this file) with the shared formulas, so that it equals the
// CPU decoder's float bit for bit. A unit is a block (ggml types, nf4, fp4, MX), a group or row of an
// integer grid, or one plain value; units are UNIT_BYTES apart. Specialization constants 1-5.
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/minifloat.inc"
#include "core/formulas/gguf_legacy.inc"
#include "core/formulas/int_grid.inc"
#include "core/formulas/scaled_float.inc"
#include "core/formulas/scale_search.inc"
#include "core/formulas/kquants.inc"

// Format ids: the host's table in gpu/codec_kernels.cpp (StoredFormat) uses the same numbers.
const uint FORMAT_F32 = 0u, FORMAT_F16 = 1u, FORMAT_BF16 = 2u, FORMAT_E4M3 = 3u, FORMAT_E5M2 = 4u;
const uint FORMAT_Q4_0 = 5u, FORMAT_Q4_1 = 6u, FORMAT_Q5_0 = 7u, FORMAT_Q5_1 = 8u, FORMAT_Q8_0 = 9u;
const uint FORMAT_IQ4_NL = 10u, FORMAT_IQ4_XS = 11u;
const uint FORMAT_Q2_K = 12u, FORMAT_Q3_K = 13u, FORMAT_Q4_K = 14u, FORMAT_Q5_K = 15u, FORMAT_Q6_K = 16u;
const uint FORMAT_GRID = 17u, FORMAT_NF4 = 18u, FORMAT_FP4 = 19u, FORMAT_MXFP4 = 20u, FORMAT_MXINT8 = 21u;

layout(constant_id = 1) const uint FORMAT = FORMAT_F32;
layout(constant_id = 2) const uint UNIT_VALUES = 1u;
layout(constant_id = 3) const uint UNIT_BYTES = 4u;
layout(constant_id = 4) const int GRID_BITS = 4;
layout(constant_id = 5) const bool GRID_ASYMMETRIC = false;

float unit_value(uint unit, uint j) {
    int i = int(j);
    switch (FORMAT) {
        case FORMAT_F16: return block_half(unit, 0);
        case FORMAT_BF16: return bf16_bits_to_fp32(block_u16(unit, 0));
        case FORMAT_E4M3: return e4m3_to_fp32(QB_BYTE(unit, 0));
        case FORMAT_E5M2: return e5m2_to_fp32(QB_BYTE(unit, 0));
        case FORMAT_Q4_0: return q4_0_value(unit, i);
        case FORMAT_Q4_1: return q4_1_value(unit, i);
        case FORMAT_Q5_0: return q5_0_value(unit, i);
        case FORMAT_Q5_1: return q5_1_value(unit, i);
        case FORMAT_Q8_0: return q8_0_value(unit, i);
        case FORMAT_IQ4_NL: return iq4_nl_value(unit, i);
        case FORMAT_IQ4_XS: return iq4_xs_value(unit, i);
        case FORMAT_Q2_K: return q2_k_value(unit, i);
        case FORMAT_Q3_K: return q3_k_value(unit, i);
        case FORMAT_Q4_K: return q4_k_value(unit, i);
        case FORMAT_Q5_K: return q5_k_value(unit, i);
        case FORMAT_Q6_K: return q6_k_value(unit, i);
        case FORMAT_GRID: return grid_unit_value(unit, GRID_BITS, GRID_ASYMMETRIC, j);
        case FORMAT_NF4: return nf4_block_value(unit, i);
        case FORMAT_FP4: return fp4_block_value(unit, i);
        case FORMAT_MXFP4: return mxfp4_block_value(unit, i);
        case FORMAT_MXINT8: return mxint8_block_value(unit, i);
        default: return uintBitsToFloat(block_u32(unit, 0));
    }
}

// Value i of a run of whole units starting at byte 0 of BLOCK_BYTES.
float stored_value(uint i) { return unit_value(i / UNIT_VALUES * UNIT_BYTES, i % UNIT_VALUES); }
