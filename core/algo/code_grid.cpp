#include "core/algo/code_grid.h"

#include <vector>

#include "core/quant/gguf_legacy.h"
#include "core/quant/grid_math.h"
#include "core/util/half.h"

namespace qb {
namespace {

class IntGridCodes : public CodeGrid {
public:
    explicit IntGridCodes(const GridParams& g) : g_(g) {}

    int64_t unit_values(int64_t cols) const override { return g_.group > 0 ? g_.group : cols; }

    LinearGrid fit(const float* x, int64_t n, const float* importance) const override {
        const grid::Scale scale = grid::choose_unit_scale(g_, x, n, importance);
        const grid::Quantizer q(g_, scale);
        const float s = scale.s();
        return {s, s > 0 ? 1.0f / s : 0.0f, 0.0f, scale.zero, q.lowest(), q.highest(), false};
    }

    // The codes' values lie on the unit's grid, so the format's writer stores exactly those codes.
    void write_row(const LinearGrid* units, const uint8_t* codes, int64_t cols, uint8_t* row) const override {
        const int64_t unit = unit_values(cols);
        std::vector<float> values(static_cast<size_t>(unit));
        for (int64_t begin = 0; begin < cols; begin += unit, ++units) {
            for (int64_t j = 0; j < unit; ++j) values[size_t(j)] = units->value(codes[begin + j]);
            grid::write_unit(g_, {fp32_to_fp16(units->scale), units->zero}, values.data(), unit, row);
            row += grid::record_bytes(g_) + grid::code_bytes(g_.bits, unit);
        }
    }

private:
    GridParams g_;
};

class LegacyBlockCodes : public CodeGrid {
public:
    static constexpr int64_t kBlock = 32;
    explicit LegacyBlockCodes(const FormatInfo& f) : f_(f) {}

    int64_t unit_values(int64_t) const override { return kBlock; }

    LinearGrid fit(const float* x, int64_t n, const float* importance) const override {
        std::vector<uint8_t> block(f_.block_bytes);
        f_.encode_row(f_, x, n, block.data(), importance, nullptr);
        const gguf::LegacyBlockGrid b = *gguf::legacy_block_grid(f_, block.data());
        return {b.d, b.d != 0 ? 1.0f / b.d : 0.0f, b.m, b.offset, 0, b.highest, b.affine};
    }

    void write_row(const LinearGrid* units, const uint8_t* codes, int64_t cols, uint8_t* row) const override {
        for (int64_t begin = 0; begin < cols; begin += kBlock, ++units, row += f_.block_bytes) {
            const gguf::LegacyBlockGrid b{units->scale, units->min, units->zero, units->highest, units->has_min};
            gguf::write_legacy_block(f_, b, codes + begin, row);
        }
    }

private:
    const FormatInfo& f_;
};

}  // namespace

std::unique_ptr<CodeGrid> CodeGrid::for_format(const FormatInfo& format) {
    if (format.kind == FormatKind::IntGrid && format.grid.group != kPerTensor)
        return std::make_unique<IntGridCodes>(format.grid);
    static const uint8_t kZeroBlock[64] = {};  // only asks whether the format has a linear-grid view
    if (format.kind == FormatKind::GgufBlock && gguf::legacy_block_grid(format, kZeroBlock))
        return std::make_unique<LegacyBlockCodes>(format);
    return nullptr;
}

}  // namespace qb
