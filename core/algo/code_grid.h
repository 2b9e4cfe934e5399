// Formats seen at code level, for algorithms that choose every code themselves (GPTQ). A row is cut into
// units (a group, a 32-value ggml block, or the whole row) whose values lie on a linear grid
//   value = (code - zero) * scale  [+ min]
// fitted from the unit's values exactly as the format's encoder fits it; the row's bytes are then
// written in the format's layout from the units' grids and the chosen codes. Supported: integer grids
// g<N> and pc (sym/asym, _clip), ggml q4_0 q4_1 q5_0 q5_1 q8_0.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>

#include "core/quant/format.h"

namespace qb {

struct LinearGrid {
    float scale = 0, inverse = 0, min = 0;  // inverse: 1/scale in f32, 0 for scale 0
    int zero = 0, lowest = 0, highest = 0;
    bool has_min = false;

    // Round to nearest (ties to even) and clamp, as the integer-grid encoder does; NaN gives `lowest`.
    uint8_t code(float x) const {
        const float q = std::nearbyint(has_min ? (x - min) * inverse : x * inverse) + float(zero);
        return uint8_t(std::fmin(std::fmax(q, float(lowest)), float(highest)));
    }
    // Bit for bit the format's decoder.
    float value(uint8_t code) const {
        return has_min ? float(int(code) - zero) * scale + min : float(int(code) - zero) * scale;
    }
};

class CodeGrid {
public:
    // nullptr when the format has no code-level view (K-quants, IQ4, NF4, per-tensor grids ...).
    static std::unique_ptr<CodeGrid> for_format(const FormatInfo& format);
    virtual ~CodeGrid() = default;

    virtual int64_t unit_values(int64_t cols) const = 0;
    // The grid the format's encoder chooses for the n values x of one unit (importance: n weights or nullptr).
    virtual LinearGrid fit(const float* x, int64_t n, const float* importance) const = 0;
    // Writes one row (cols values: units one after another) in the format's layout.
    virtual void write_row(const LinearGrid* units, const uint8_t* codes, int64_t cols, uint8_t* row) const = 0;
};

}  // namespace qb
