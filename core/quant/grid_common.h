// Small helpers shared by the scaled formats (integer grids, NF4/FP4, MX): f16 scale records and
// NaN-tolerant extremes. Internal to core/quant.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/formulas/formulas.h"
#include "core/util/half.h"

namespace qb {

// The smallest finite f16 not below s (s >= 0), so a scale never shrinks when stored and the group's
// extreme value stays on the grid instead of being clipped. Overflow and NaN give the largest f16.
inline uint16_t f16_scale_at_least(float s) { return uint16_t(formula::f16_scale_at_least(s)); }

inline void store_f16(uint8_t* p, uint16_t h) {
    p[0] = uint8_t(h & 0xff);
    p[1] = uint8_t(h >> 8);
}

inline uint16_t load_f16_bits(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline float load_f16(const uint8_t* p) { return fp16_to_fp32(load_f16_bits(p)); }

// Largest |x|; NaNs are ignored.
inline float abs_max(const float* x, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; ++i) m = formula::fmax_number(m, std::fabs(x[i]));
    return m;
}

}  // namespace qb
