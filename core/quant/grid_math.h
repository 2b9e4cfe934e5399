// The arithmetic of the integer-grid formats (core/quant/int_grid.cpp: layout; the scale and rounding
// rules are the shared formulas of core/formulas/int_grid.inc), for algorithms that choose a unit's scale and zero or
// its codes themselves (GPTQ, HQQ) and must store them exactly as the format does. A unit is a group of N values, or a
// row (pc).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/formulas/formulas.h"
#include "core/quant/format.h"
#include "core/util/half.h"

namespace qb::grid {

inline int max_code(int bits) { return formula::grid_highest_code(bits); }
inline size_t record_bytes(const GridParams& g) { return g.asymmetric ? 3 : 2; }
inline size_t code_bytes(int bits, int64_t count) { return size_t((int64_t(bits) * count + 7) / 8); }

// A unit's stored record: f16 scale bits and zero point (2^(bits-1) for symmetric grids).
struct Scale {
    uint16_t s_f16 = 0;
    int zero = 0;
    float s() const { return fp16_to_fp32(s_f16); }
};

// Maps values to codes of the grid `scale`; NaN maps to the lowest code.
class Quantizer {
public:
    Quantizer(const GridParams& g, const Scale& scale)
        : zero_(scale.zero),
          lowest_(formula::grid_lowest_code(g.bits, g.asymmetric)),
          highest_(formula::grid_highest_code(g.bits)),
          s_(scale.s()),
          inverse_(formula::grid_inverse_scale(s_)) {}
    unsigned code(float x) const { return formula::grid_code(x, inverse_, zero_, lowest_, highest_); }
    float value(unsigned code) const { return formula::grid_value(code, s_, zero_); }
    int lowest() const { return lowest_; }
    int highest() const { return highest_; }

private:
    int zero_, lowest_, highest_;
    float s_, inverse_;
};

// The record of the range [lo, hi] (lo <= 0 <= hi; symmetric grids read hi = absmax only).
Scale range_scale(const GridParams& g, float lo, float hi);
// Candidate k (0 .. formula::grid_clip_steps) of the clipping search over [lo, hi]: the record of
// [r lo, r hi], r = formula::grid_clip_ratio(k); candidate 0 is range_scale(g, lo, hi).
Scale clip_candidate(const GridParams& g, float lo, float hi, int k);
// The candidate the search keeps given the errors of candidates 0 .. grid_clip_steps: the least, ties
// keeping the earlier one (the larger ratio); a NaN error never replaces the kept candidate.
int best_clip_candidate(const double* errors);

// The record the format's encoder stores for the n values x (its clip search included, weighted by
// `weights` when given; errors summed per piece of formula::grid_tensor_piece values, then in piece order).
Scale choose_unit_scale(const GridParams& g, const float* x, int64_t n, const float* weights);

// Writes a unit's (or a per-tensor grid's header) record: f16 scale, then the zero point if asymmetric.
void write_record(const GridParams& g, const Scale& scale, uint8_t* out);
// Writes one unit as the format stores it: the record, then the codes Quantizer(g, scale) gives x.
// Values already on that grid (Quantizer::value of a code) are written as exactly that code.
void write_unit(const GridParams& g, const Scale& scale, const float* x, int64_t n, uint8_t* out);

}  // namespace qb::grid
