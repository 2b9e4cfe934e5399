// Uniform integer grids: int<bits>_<g<N>|pc|pt>_<sym|asym>[_clip], 2..8 bits.
//
// Every scale unit (a group of N values, a row, or the whole tensor) stores a record
//     f16 scale s (little-endian) [+ u8 zero point z, asymmetric only]
// and each value x as an unsigned code c of `bits` bits, decoded as  x' = s * (c - z).
//   sym:  z = 2^(bits-1) implicitly; c in 1 .. 2^bits-1 (the signed range -(2^(bits-1)-1) .. 2^(bits-1)-1,
//         restricted so the grid is symmetric: +absmax and -absmax are equally representable);
//         s = absmax / (2^(bits-1)-1). So int2 sym is ternary {-s, 0, s}; asym uses all 2^bits codes.
//   asym: the range [lo, hi] = [min(min x, 0), max(max x, 0)] always holds 0, which is therefore exact;
//         s = (hi - lo) / (2^bits - 1), z = roundEven(-lo / s) in 0 .. 2^bits-1, c in 0 .. 2^bits-1.
// s is stored as the smallest f16 not below the exact scale (f16_scale_at_least), so nothing is clipped
// and the round-to-nearest error is at most s/2. Codes: c = clamp(roundEven(x * (1/s)) + z), with 1/s
// computed in f32 (0 when s = 0). These rules are the shared formulas of core/formulas/int_grid.inc,
// which the GPU kernels use too.
// Codes are packed LSB-first: code i of a unit occupies bits [i*bits, (i+1)*bits) of the unit's code
// bytes (byte k holds stream bits 8k..8k+7), ceil(bits * count / 8) bytes, the last one zero-padded.
//   g<N>: row = per group [record][codes of N values]      block_values = N
//   pc:   row = [record][codes of the row]                  block_values = 0 (row_bytes_fn)
//   pt:   tensor header = [record]; row = [codes of the row] header_bytes = record size
// _clip: instead of the full range, the ratio r in {1, 0.975, ..., 0.5} whose grid over [r*lo, r*hi]
// gives the least squared error of the unit is kept (weighted by the importance of each column when one
// is given; ties keep the larger r). Errors are summed in double in value order, on the GPU too, so
// both pick the same r on near-ties; a unit's errors (a pt tensor's too) are summed per piece of a row
// (int_grid.inc's grid_tensor_piece), then over the pieces in order, so the GPU can sum the pieces in
// parallel: units of at most one piece (g<N>, N <= 1024) sum in plain value order.
// Without _clip the importance vector does not change the result.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/quant/format_families.h"
#include "core/quant/grid_common.h"
#include "core/quant/grid_math.h"

namespace qb {
namespace {

constexpr int64_t kMaxGroup = int64_t(1) << 30;

using grid::code_bytes;
using grid::max_code;
using grid::Quantizer;
using grid::record_bytes;
using grid::Scale;
using grid::write_record;

Scale read_record(const GridParams& g, const uint8_t* in) {
    return {load_f16_bits(in), g.asymmetric ? int(in[2]) : 1 << (g.bits - 1)};
}

// `rows` runs of `n` values, run r at x + r * stride; weights[j] (optional) applies to value j of every run.
struct Values {
    const float* x;
    int64_t rows;
    int64_t n;
    int64_t stride;
    const float* weights;
};

struct Range {
    float lo = 0, hi = 0;  // lo <= 0 <= hi; symmetric grids use hi = absmax only
};

Range value_range(const GridParams& g, const Values& v) {
    Range r;
    for (int64_t row = 0; row < v.rows; ++row) {
        const float* x = v.x + row * v.stride;
        if (!g.asymmetric) {
            r.hi = formula::fmax_number(r.hi, abs_max(x, v.n));
            continue;
        }
        for (int64_t i = 0; i < v.n; ++i) {
            r.lo = formula::fmin_number(r.lo, x[i]);
            r.hi = formula::fmax_number(r.hi, x[i]);
        }
    }
    return r;
}

// The clipping search's error: per row, the sums (in value order) of its pieces of at most `piece` values,
// added up in order.
double squared_error(const GridParams& g, const Scale& scale, const Values& v, int64_t piece) {
    const Quantizer q(g, scale);
    double sum = 0;
    for (int64_t row = 0; row < v.rows; ++row) {
        const float* x = v.x + row * v.stride;
        for (int64_t begin = 0; begin < v.n; begin += piece) {
            double part = 0;
            for (int64_t i = begin; i < std::min(begin + piece, v.n); ++i)
                part += formula::grid_error_term(x[i], q.value(q.code(x[i])), v.weights ? v.weights[i] : 1.0f);
            sum += part;
        }
    }
    return sum;
}

Scale choose_scale(const GridParams& g, const Values& v, int64_t piece) {
    const Range range = value_range(g, v);
    if (!g.clip_search) return grid::range_scale(g, range.lo, range.hi);
    double errors[formula::grid_clip_steps + 1];
    for (int k = 0; k <= formula::grid_clip_steps; ++k)
        errors[k] = squared_error(g, grid::clip_candidate(g, range.lo, range.hi, k), v, piece);
    return grid::clip_candidate(g, range.lo, range.hi, grid::best_clip_candidate(errors));
}

// Bit-serial packing, for the last (fewer than 8) values of a unit.
void pack_tail(const Quantizer& q, int bits, const float* x, int64_t n, uint8_t* out) {
    uint32_t pending = 0;
    int pending_bits = 0;
    for (int64_t i = 0; i < n; ++i) {
        pending |= q.code(x[i]) << pending_bits;
        pending_bits += bits;
        while (pending_bits >= 8) {
            *out++ = uint8_t(pending);
            pending >>= 8;
            pending_bits -= 8;
        }
    }
    if (pending_bits > 0) *out = uint8_t(pending);
}

void unpack_tail(const Quantizer& q, int bits, const uint8_t* in, int64_t n, float* x) {
    const uint32_t mask = uint32_t(max_code(bits));
    uint32_t pending = 0;
    int pending_bits = 0;
    for (int64_t i = 0; i < n; ++i) {
        while (pending_bits < bits) {
            pending |= uint32_t(*in++) << pending_bits;
            pending_bits += 8;
        }
        x[i] = q.value(pending & mask);
        pending >>= bits;
        pending_bits -= bits;
    }
}

// The same stream, 8 codes at a time: 8 codes of Bits bits fill exactly Bits bytes.
template <int Bits>
void pack_codes(const Quantizer& q, const float* x, int64_t n, uint8_t* out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8, out += Bits) {
        uint64_t word = 0;
        for (int k = 0; k < 8; ++k) word |= uint64_t(q.code(x[i + k])) << (k * Bits);
        for (int b = 0; b < Bits; ++b) out[b] = uint8_t(word >> (8 * b));
    }
    pack_tail(q, Bits, x + i, n - i, out);
}

template <int Bits>
void unpack_values(const Quantizer& q, const uint8_t* in, int64_t n, float* x) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8, in += Bits) {
        uint64_t word = 0;
        for (int b = 0; b < Bits; ++b) word |= uint64_t(in[b]) << (8 * b);
        for (int k = 0; k < 8; ++k) x[i + k] = q.value(unsigned(word >> (k * Bits)) & unsigned(max_code(Bits)));
    }
    unpack_tail(q, Bits, in, n - i, x + i);
}

using PackFn = void (*)(const Quantizer&, const float*, int64_t, uint8_t*);
using UnpackFn = void (*)(const Quantizer&, const uint8_t*, int64_t, float*);
constexpr PackFn kPack[9] = {nullptr, nullptr, pack_codes<2>, pack_codes<3>, pack_codes<4>,
                             pack_codes<5>, pack_codes<6>, pack_codes<7>, pack_codes<8>};
constexpr UnpackFn kUnpack[9] = {nullptr, nullptr, unpack_values<2>, unpack_values<3>, unpack_values<4>,
                                 unpack_values<5>, unpack_values<6>, unpack_values<7>, unpack_values<8>};

int64_t unit_values(const GridParams& g, int64_t row_values) { return g.group > 0 ? g.group : row_values; }

// g<N> and pc: each unit of the row carries its own record.
void encode_units(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                  const uint8_t*) {
    const GridParams& g = f.grid;
    const int64_t unit = unit_values(g, n);
    for (int64_t begin = 0; begin < n; begin += unit) {
        const float* weights = importance ? importance + begin : nullptr;
        grid::write_unit(g, grid::choose_unit_scale(g, x + begin, unit, weights), x + begin, unit, y);
        y += record_bytes(g) + code_bytes(g.bits, unit);
    }
}

void decode_units(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    const GridParams& g = f.grid;
    const int64_t unit = unit_values(g, n);
    for (int64_t begin = 0; begin < n; begin += unit) {
        const Quantizer q(g, read_record(g, y));
        y += record_bytes(g);
        kUnpack[g.bits](q, y, unit, x + begin);
        y += code_bytes(g.bits, unit);
    }
}

// pt: one record in the tensor header, rows hold codes only.
void prepare_tensor_record(const FormatInfo& f, const float* x, int64_t rows, int64_t cols, const float* importance,
                           uint8_t* header) {
    write_record(f.grid, choose_scale(f.grid, {x, rows, cols, cols, importance}, formula::grid_tensor_piece), header);
}

void encode_tensor_scaled_row(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float*,
                              const uint8_t* header) {
    kPack[f.grid.bits](Quantizer(f.grid, read_record(f.grid, header)), x, n, y);
}

void decode_tensor_scaled_row(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t* header) {
    kUnpack[f.grid.bits](Quantizer(f.grid, read_record(f.grid, header)), y, n, x);
}

size_t per_channel_row_bytes(const FormatInfo& f, int64_t cols) {
    return record_bytes(f.grid) + code_bytes(f.grid.bits, cols);
}

size_t per_tensor_row_bytes(const FormatInfo& f, int64_t cols) { return code_bytes(f.grid.bits, cols); }

// Built with += : GCC 12 warns falsely (-Wrestrict) on "literal" + std::string temporaries.
std::string grid_name(const GridParams& g) {
    std::string name = "int";
    name += std::to_string(g.bits);
    if (g.group == kPerChannel) {
        name += "_pc";
    } else if (g.group == kPerTensor) {
        name += "_pt";
    } else {
        name += "_g";
        name += std::to_string(g.group);
    }
    name += g.asymmetric ? "_asym" : "_sym";
    if (g.clip_search) name += "_clip";
    return name;
}

std::string grid_description(const GridParams& g) {
    std::string text = std::to_string(g.bits);
    text += g.asymmetric ? "-bit asymmetric integer grid, f16 scale + u8 zero point " : "-bit symmetric integer grid, f16 scale ";
    if (g.group == kPerChannel) {
        text += "per row";
    } else if (g.group == kPerTensor) {
        text += "per tensor";
    } else {
        text += "per ";
        text += std::to_string(g.group);
        text += " values";
    }
    if (g.clip_search) text += ", MSE-optimal clipping";
    return text;
}

FormatInfo make_grid_format(const GridParams& g) {
    FormatInfo f;
    f.name = grid_name(g);
    f.kind = FormatKind::IntGrid;
    f.description = grid_description(g);
    f.grid = g;
    if (g.group > 0) {
        f.block_values = g.group;
        f.block_bytes = record_bytes(g) + code_bytes(g.bits, g.group);
        f.nominal_bits = 8.0 * double(f.block_bytes) / double(g.group);
    } else {
        f.block_values = 0;
        f.nominal_bits = g.bits;  // the record is negligible for long rows
    }
    if (g.group == kPerTensor) {
        f.header_bytes = record_bytes(g);
        f.prepare_header = prepare_tensor_record;
        f.row_bytes_fn = per_tensor_row_bytes;
        f.encode_row = encode_tensor_scaled_row;
        f.decode_row = decode_tensor_scaled_row;
    } else {
        f.row_bytes_fn = g.group == kPerChannel ? per_channel_row_bytes : nullptr;
        f.encode_row = encode_units;
        f.decode_row = decode_units;
    }
    return f;
}

std::optional<int64_t> parse_count(std::string_view digits) {
    int64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
}

std::optional<GridParams> parse_grid_params(std::string_view name) {
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
        const size_t end = name.find('_', start);
        parts.push_back(name.substr(start, end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    if (parts.size() < 3 || parts.size() > 4 || !parts[0].starts_with("int")) return std::nullopt;
    if (parts.size() == 4 && parts[3] != "clip") return std::nullopt;
    GridParams g;
    const auto bits = parse_count(parts[0].substr(3));
    if (!bits || *bits < 2 || *bits > 8) return std::nullopt;
    g.bits = int(*bits);
    if (parts[1] == "pc") {
        g.group = kPerChannel;
    } else if (parts[1] == "pt") {
        g.group = kPerTensor;
    } else {
        const auto group = parts[1].starts_with("g") ? parse_count(parts[1].substr(1)) : std::nullopt;
        if (!group || *group < 1 || *group > kMaxGroup) return std::nullopt;
        g.group = *group;
    }
    if (parts[2] != "sym" && parts[2] != "asym") return std::nullopt;
    g.asymmetric = parts[2] == "asym";
    g.clip_search = parts.size() == 4;
    return g;
}

}  // namespace

namespace grid {

Scale range_scale(const GridParams& g, float lo, float hi) {
    if (!g.asymmetric) return {uint16_t(formula::grid_symmetric_scale(hi, g.bits)), formula::grid_symmetric_zero(g.bits)};
    const uint32_t record = formula::grid_asymmetric_record(lo, hi, g.bits);
    return {uint16_t(record & 0xffff), int(record >> 16)};
}

Scale clip_candidate(const GridParams& g, float lo, float hi, int k) {
    const float ratio = formula::grid_clip_ratio(k);
    return range_scale(g, ratio * lo, ratio * hi);
}

int best_clip_candidate(const double* errors) {
    int best = 0;
    for (int k = 1; k <= formula::grid_clip_steps; ++k)
        if (errors[k] < errors[best]) best = k;
    return best;
}

Scale choose_unit_scale(const GridParams& g, const float* x, int64_t n, const float* weights) {
    return choose_scale(g, {x, 1, n, n, weights}, formula::grid_tensor_piece);
}

void write_record(const GridParams& g, const Scale& scale, uint8_t* out) {
    store_f16(out, scale.s_f16);
    if (g.asymmetric) out[2] = uint8_t(scale.zero);
}

void write_unit(const GridParams& g, const Scale& scale, const float* x, int64_t n, uint8_t* out) {
    write_record(g, scale, out);
    kPack[g.bits](Quantizer(g, scale), x, n, out + record_bytes(g));
}

}  // namespace grid

void add_grid_formats(std::vector<FormatInfo>& table) {
    auto add = [&](int bits, int64_t group, bool asymmetric, bool clip = false) {
        table.push_back(make_grid_format({bits, group, asymmetric, clip}));
    };
    for (int bits : {2, 3, 4})
        for (int64_t group : {int64_t(32), int64_t(128), kPerChannel})
            for (bool asymmetric : {false, true}) add(bits, group, asymmetric);
    add(8, 128, false);
    add(8, kPerChannel, false);
    add(8, kPerChannel, true);
    add(8, kPerTensor, false);
    add(4, 128, false, true);
    add(4, 128, true, true);
}

std::optional<FormatInfo> parse_grid_format(std::string_view name) {
    const auto params = parse_grid_params(name);
    // Only the canonical spelling is accepted ("int4_g032_sym" is not), so a name maps to one entry.
    if (!params || grid_name(*params) != name) return std::nullopt;
    return make_grid_format(*params);
}

}  // namespace qb
