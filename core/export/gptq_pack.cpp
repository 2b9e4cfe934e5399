#include "core/export/gptq_pack.h"

#include <regex>

#include "core/util/error.h"
#include "core/util/half.h"

namespace qb {
namespace {

// Reads a tensor in the integer-grid layout documented in core/quant/int_grid.cpp: per row, per unit
// (a group, or the whole row for per-channel grids) an f16 scale [+ u8 zero point when asymmetric]
// followed by the unit's codes, LSB-first.
class GridReader {
public:
    GridReader(const FormatInfo& f, std::span<const uint8_t> bytes, int64_t rows, int64_t cols, const std::string& subject)
        : bits_(f.grid.bits), asymmetric_(f.grid.asymmetric), unit_(f.grid.group > 0 ? f.grid.group : cols),
          record_bytes_(f.grid.asymmetric ? 3 : 2), unit_bytes_(record_bytes_ + size_t((bits_ * unit_ + 7) / 8)),
          row_bytes_(f.row_bytes(cols)), bytes_(bytes) {
        if (f.kind != FormatKind::IntGrid || f.header_bytes != 0)
            throw Error(subject, f.name + " is not a per-group or per-channel integer grid");
        if (bytes.size() != f.tensor_bytes(rows, cols))
            throw Error(subject, std::to_string(bytes.size()) + " bytes given, " + f.name + " of this shape needs " +
                                     std::to_string(f.tensor_bytes(rows, cols)));
    }

    int64_t units(int64_t cols) const { return cols / unit_; }
    uint16_t scale(int64_t row, int64_t unit) const {
        const uint8_t* p = record(row, unit);
        return uint16_t(p[0] | (p[1] << 8));
    }
    int zero(int64_t row, int64_t unit) const { return asymmetric_ ? record(row, unit)[2] : 1 << (bits_ - 1); }
    uint32_t code(int64_t row, int64_t column) const {
        const uint8_t* codes = record(row, column / unit_) + record_bytes_;
        const int64_t bit = (column % unit_) * bits_;
        const uint32_t pair = codes[bit / 8] | (bit % 8 + bits_ > 8 ? uint32_t(codes[bit / 8 + 1]) << 8 : 0u);
        return (pair >> (bit % 8)) & ((1u << bits_) - 1);
    }

private:
    const uint8_t* record(int64_t row, int64_t unit) const {
        return bytes_.data() + size_t(row) * row_bytes_ + size_t(unit) * unit_bytes_;
    }

    int bits_;
    bool asymmetric_;
    int64_t unit_;
    size_t record_bytes_, unit_bytes_, row_bytes_;
    std::span<const uint8_t> bytes_;
};

// Value `position` of a stream of `bits`-bit values whose k-th 32-bit word is words[first + k * stride].
void put_bits(std::vector<int32_t>& words, size_t first, size_t stride, int64_t position, int bits, uint32_t value) {
    const int64_t bit = position * bits;
    const size_t word = first + size_t(bit / 32) * stride;
    const int shift = int(bit % 32);
    words[word] = int32_t(uint32_t(words[word]) | (value << shift));
    if (shift + bits > 32) words[word + stride] = int32_t(uint32_t(words[word + stride]) | (value >> (32 - shift)));
}

uint32_t get_bits(const std::vector<int32_t>& words, size_t first, size_t stride, int64_t position, int bits) {
    const int64_t bit = position * bits;
    const size_t word = first + size_t(bit / 32) * stride;
    const int shift = int(bit % 32);
    uint64_t value = uint32_t(words[word]) >> shift;
    if (shift + bits > 32) value |= uint64_t(uint32_t(words[word + stride])) << (32 - shift);
    return uint32_t(value) & ((1u << bits) - 1);
}

int64_t output_column(const std::vector<int32_t>& out_order, int64_t row) {
    return out_order.empty() ? row : out_order[size_t(row)];
}

}  // namespace

GptqModule pack_gptq(const FormatInfo& grid, std::span<const uint8_t> bytes, int64_t rows, int64_t cols,
                     const std::vector<int32_t>& act_order, const std::vector<int32_t>& out_order,
                     const std::string& subject) {
    const GridReader reader(grid, bytes, rows, cols, subject);
    GptqModule m;
    m.bits = grid.grid.bits;
    m.group_size = grid.grid.group > 0 ? grid.grid.group : -1;
    m.in = cols;
    m.out = rows;
    const size_t zero_words = size_t(m.out * m.bits / 32);
    m.qweight.assign(size_t(m.in * m.bits / 32 * m.out), 0);
    m.qzeros.assign(size_t(m.groups()) * zero_words, 0);
    m.scales.assign(size_t(m.groups() * m.out), 0);
    m.g_idx.assign(size_t(m.in), 0);
    for (int64_t j = 0; j < cols; ++j) {
        const int64_t input = act_order.empty() ? j : act_order[size_t(j)];
        m.g_idx[size_t(input)] = int32_t(m.group_size < 0 ? 0 : j / m.group_size);
    }
    const uint32_t mask = (1u << m.bits) - 1;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t o = output_column(out_order, r);
        for (int64_t g = 0; g < m.groups(); ++g) {
            const int zero = reader.zero(r, g);
            if (zero == 0)
                throw Error(subject, "group " + std::to_string(g) + " of row " + std::to_string(r) +
                                         " has zero point 0, which the GPTQ v1 layout (zero - 1) cannot store; use a "
                                         "symmetric grid");
            m.scales[size_t(g * m.out + o)] = reader.scale(r, g);
            put_bits(m.qzeros, size_t(g) * zero_words, 1, o, m.bits, uint32_t(zero - 1) & mask);
        }
        for (int64_t j = 0; j < cols; ++j) {
            const int64_t input = act_order.empty() ? j : act_order[size_t(j)];
            put_bits(m.qweight, size_t(o), size_t(m.out), input, m.bits, reader.code(r, j));
        }
    }
    return m;
}

std::vector<float> unpack_gptq(const GptqModule& m, const std::vector<int32_t>& out_order) {
    const size_t zero_words = size_t(m.out * m.bits / 32);
    std::vector<float> values(size_t(m.out * m.in));
    for (int64_t r = 0; r < m.out; ++r) {
        const int64_t o = output_column(out_order, r);
        for (int64_t i = 0; i < m.in; ++i) {
            const int64_t g = m.g_idx[size_t(i)];
            const int zero = int(get_bits(m.qzeros, size_t(g) * zero_words, 1, o, m.bits)) + 1;
            const int code = int(get_bits(m.qweight, size_t(o), size_t(m.out), i, m.bits));
            values[size_t(r * m.in + i)] = fp16_to_fp32(m.scales[size_t(g * m.out + o)]) * float(code - zero);
        }
    }
    return values;
}

GptqModuleSettings gptq_module_settings(const nlohmann::ordered_json& config, const std::string& module) {
    GptqModuleSettings s{true, config.value("bits", 0), config.value("group_size", int64_t(0)), config.value("sym", false),
                         config.value("desc_act", false)};
    const auto dynamic = config.find("dynamic");
    if (dynamic == config.end() || !dynamic->is_object()) return s;
    for (const auto& [key, overrides] : dynamic->items()) {
        const bool skip = key.starts_with("-:");
        const std::string pattern = key.starts_with("-:") || key.starts_with("+:") ? key.substr(2) : key;
        if (!std::regex_search(module, std::regex(pattern), std::regex_constants::match_continuous)) continue;
        if (skip) return {false, 0, 0, false, false};
        s.bits = overrides.value("bits", s.bits);
        s.group_size = overrides.value("group_size", s.group_size);
        s.sym = overrides.value("sym", s.sym);
        s.desc_act = overrides.value("desc_act", s.desc_act);
        return s;
    }
    return s;
}

}  // namespace qb
