// The arithmetic of the integer-grid formats (core/quant/int_grid.cpp: layout, scale and rounding
// rules), for algorithms that choose a unit's scale and zero or its codes themselves (GPTQ, HQQ) and
// must store them exactly as the format does. A unit is a group of N values, or a row (pc).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/quant/format.h"
#include "core/util/half.h"

namespace qb::grid {

inline int max_code(int bits) { return (1 << bits) - 1; }
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
        : zero_(scale.zero), lowest_(g.asymmetric ? 0 : 1), highest_(max_code(g.bits)), s_(scale.s()),
          inverse_(s_ > 0 ? 1.0f / s_ : 0.0f) {}
    unsigned code(float x) const {
        const float q = std::nearbyint(x * inverse_) + float(zero_);
        return unsigned(std::fmin(std::fmax(q, float(lowest_)), float(highest_)));
    }
    float value(unsigned code) const { return s_ * float(int(code) - zero_); }
    int lowest() const { return lowest_; }
    int highest() const { return highest_; }

private:
    int zero_, lowest_, highest_;
    float s_, inverse_;
};

// The record the format's encoder stores for the n values x (its clip search included, weighted by
// `weights` when given).
Scale choose_unit_scale(const GridParams& g, const float* x, int64_t n, const float* weights);

// Writes one unit as the format stores it: the record, then the codes Quantizer(g, scale) gives x.
// Values already on that grid (Quantizer::value of a code) are written as exactly that code.
void write_unit(const GridParams& g, const Scale& scale, const float* x, int64_t n, uint8_t* out);

}  // namespace qb::grid
