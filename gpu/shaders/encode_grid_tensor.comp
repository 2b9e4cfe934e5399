#version 450
// f32 -> integer grid over pieces (core/formulas/int_grid.inc: runs of at most grid_tensor_piece values of
// a line), for per-tensor grids (pt: a line is a row of the tensor, one record for all) and for grids whose
// unit is longer than a piece (PER_UNIT, pc and g<N>: a line is a unit, with its own record in front of its
// codes); the host streams every chunk of whole lines through a stage before the next, and computes the
// records between stages (gpu/tensor_grid_kernel.cpp):
//   STAGE 0, range: per piece, [lo, hi] as the CPU gathers it (asymmetric: the extremes and 0, symmetric:
//            hi = max |x|; NaN ignored), into ranges.
//   STAGE 1, clipping errors: per piece and candidate k (invocation piece * CANDIDATES + k), the piece's
//            error with candidate k of its record (records[record * CANDIDATES + k]), summed in double in
//            value order, weighted by the importance of each column when params.weighted, into errors.
//   STAGE 2, codes: per piece, the codes of its record (records[record]), LSB-first from the piece's first
//            byte in its line's codes; PER_UNIT: a line's first piece writes the line's record in front.
// A piece's record is its line's (first_line counts the lines before the chunk) with PER_UNIT, else 0.
// Loops are at most grid_tensor_piece iterations per invocation (llvmpipe ends longer ones silently).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) buffer Codes { uint8_t codes[]; };  // read by the formulas' decoders only
layout(std430, binding = 2) writeonly buffer Ranges { vec2 ranges[]; };
layout(std430, binding = 3) writeonly buffer Errors { double errors[]; };
layout(std430, binding = 4) readonly buffer Importance { float importance[]; };
layout(std430, binding = 5) readonly buffer Records { uint records[]; };  // f16 scale bits | zero << 16
#define BLOCK_BYTES codes
#include "common/formulas.glsl"
#include "core/formulas/rounding.inc"
#include "core/formulas/half.inc"
#include "core/formulas/block_bytes.inc"
#include "core/formulas/int_grid.inc"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP_SIZE = 64u;
#include "common/kernel.glsl"
layout(constant_id = 1) const int BITS = 8;
layout(constant_id = 2) const bool ASYMMETRIC = false;
layout(constant_id = 3) const uint STAGE = 0u;
layout(constant_id = 4) const bool PER_UNIT = false;
const uint RECORD_BYTES = ASYMMETRIC ? 3u : 2u;  // grid_record_bytes, as a constant
const uint PIECE = uint(grid_tensor_piece);
const uint CANDIDATES = uint(grid_clip_steps) + 1u;

layout(push_constant) uniform Params {
    uint invocations;
    uint cols;            // values of a line
    uint pieces_per_row;  // of a line
    uint row_bytes;       // bytes of a line (PER_UNIT: its record and codes)
    uint weighted;        // 1: importance holds one weight per column of the tensor
    uint first_line;      // of the chunk, counted from the tensor's start
    uint lines_per_row;   // lines in a row of the tensor (1 but for g<N>)
} params;

vec2 piece_range(uint first, uint count) {
    float lo = 0.0, hi = 0.0;
    for (uint i = 0u; i < count; ++i) {
        float x = source[first + i];
        if (ASYMMETRIC) {
            lo = fmin_number(lo, x);
            hi = fmax_number(hi, x);
        } else {
            hi = fmax_number(hi, abs(x));
        }
    }
    return vec2(lo, hi);
}

double piece_error(uint first, uint first_column, uint count, uint record) {
    float s = fp16_bits_to_fp32(record & 0xffffu);
    float inverse = grid_inverse_scale(s);
    int zero = int(record >> 16);
    int lowest = grid_lowest_code(BITS, ASYMMETRIC);
    int highest = grid_highest_code(BITS);
    precise double sum = 0.0lf;
    for (uint i = 0u; i < count; ++i) {
        float x = source[first + i];
        float value = grid_value(grid_code(x, inverse, zero, lowest, highest), s, zero);
        sum += grid_error_term(x, value, params.weighted != 0u ? importance[first_column + i] : 1.0);
    }
    return sum;
}

void write_codes(uint first, uint count, uint out_at, uint record) {
    float inverse = grid_inverse_scale(fp16_bits_to_fp32(record & 0xffffu));
    int zero = int(record >> 16);
    int lowest = grid_lowest_code(BITS, ASYMMETRIC);
    int highest = grid_highest_code(BITS);
    uint pending = 0u;
    int pending_bits = 0;
    for (uint i = 0u; i < count; ++i) {
        pending |= grid_code(source[first + i], inverse, zero, lowest, highest) << pending_bits;
        pending_bits += BITS;
        for (; pending_bits >= 8; pending_bits -= 8, pending >>= 8) codes[out_at++] = uint8_t(pending & 0xffu);
    }
    if (pending_bits > 0) codes[out_at] = uint8_t(pending & 0xffu);
}

void main() {
    uint invocation = linear_invocation();
    if (invocation >= params.invocations) return;
    uint piece = STAGE == 1u ? invocation / CANDIDATES : invocation;
    uint line = piece / params.pieces_per_row;
    uint first_column = piece % params.pieces_per_row * PIECE;
    uint count = min(PIECE, params.cols - first_column);
    uint first = line * params.cols + first_column;
    uint record_at = PER_UNIT ? params.first_line + line : 0u;
    if (STAGE == 0u) {
        ranges[piece] = piece_range(first, count);
    } else if (STAGE == 1u) {
        uint weight_column = (params.first_line + line) % params.lines_per_row * params.cols + first_column;
        uint candidate = records[record_at * CANDIDATES + invocation % CANDIDATES];
        errors[invocation] = piece_error(first, weight_column, count, candidate);
    } else {
        uint out_at = line * params.row_bytes;
        uint record = records[record_at];
        if (PER_UNIT) {
            if (first_column == 0u) {
                codes[out_at] = uint8_t(record & 0xffu);
                codes[out_at + 1u] = uint8_t((record >> 8) & 0xffu);
                if (ASYMMETRIC) codes[out_at + 2u] = uint8_t(record >> 16);
            }
            out_at += RECORD_BYTES;
        }
        write_codes(first, count, out_at + first_column / 8u * uint(BITS), record);
    }
}
