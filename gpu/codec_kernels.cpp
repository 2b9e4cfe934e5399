#include "gpu/codec_kernels.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/resident_buffer.h"
#include "gpu/tensor_grid_kernel.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

// common/dequant.glsl's FORMAT ids.
enum StoredFormat : uint32_t {
    kF32, kF16, kBF16, kE4M3, kE5M2, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kIq4Nl, kIq4Xs,
    kQ2K, kQ3K, kQ4K, kQ5K, kQ6K, kGrid, kNf4, kFp4, kMxfp4, kMxint8
};

constexpr std::pair<std::string_view, StoredFormat> kStoredFormats[] = {
    {"f32", kF32},   {"f16", kF16},   {"bf16", kBF16}, {"fp8_e4m3", kE4M3}, {"fp8_e5m2", kE5M2}, {"q4_0", kQ4_0},
    {"q4_1", kQ4_1}, {"q5_0", kQ5_0}, {"q5_1", kQ5_1}, {"q8_0", kQ8_0},     {"iq4_nl", kIq4Nl},  {"iq4_xs", kIq4Xs},
    {"q2_k", kQ2K},  {"q3_k", kQ3K},  {"q4_k", kQ4K},  {"q5_k", kQ5K},      {"q6_k", kQ6K},      {"nf4", kNf4},
    {"fp4", kFp4},   {"mxfp4", kMxfp4}, {"mxint8", kMxint8}};

// Integer grids with a scale per group or per row (per-tensor scales need the whole tensor at once).
bool is_unit_grid(const FormatInfo& f) { return f.kind == FormatKind::IntGrid && f.grid.group != kPerTensor; }

// ---- encoders --------------------------------------------------------------------------------------

using Constants = std::array<uint32_t, 4>;  // specialization constants 1-4

Constants none(const FormatInfo&, uint32_t) { return {}; }
Constants second_variant(const FormatInfo&, uint32_t) { return {1, 0, 0, 0}; }
Constants grid_constants(const FormatInfo& f, uint32_t unit_values) {
    return {uint32_t(f.grid.bits), unit_values, uint32_t(f.grid.asymmetric), uint32_t(f.grid.clip_search)};
}
template <uint32_t Kind>
Constants kind(const FormatInfo&, uint32_t) { return {Kind, 0, 0, 0}; }

// What an encoder does with an importance vector.
enum class Importance {
    Ignored,      // nothing, like the CPU codec
    Columns,      // the shader weighs each column by it (a Columns shader)
    RowWeighted,  // runs encode_legacy_weighted of `legacy_type` instead, after row_mean_square
};

// A shader's interface: Units takes the unit count as push constant; Columns also binds the importance
// vector (binding 2) and takes ColumnsPush.
enum class Interface { Units, Columns };

struct Encoder {
    std::string_view format;               // the format's name, or empty for a family:
    bool (*in_family)(const FormatInfo&);  // formats of a parametrised family (integer grids)
    std::string_view shader;
    Constants (*constants)(const FormatInfo&, uint32_t unit_values);
    uint32_t workgroup;
    bool divides = false;  // uses div_exact: needs shaderFloat64
    Importance importance = Importance::Ignored;
    Interface interface = Interface::Units;
    uint32_t legacy_type = 0;  // encode_legacy_weighted's TYPE
    uint32_t invocations_per_unit = 1;  // encode_kquant: one invocation per sub-block of a super-block
};

constexpr Encoder kEncoders[] = {
    {"f16", nullptr, "encode_half", none, 256},
    {"bf16", nullptr, "encode_half", second_variant, 256},
    {"fp8_e4m3", nullptr, "encode_fp8", none, 256},
    {"fp8_e5m2", nullptr, "encode_fp8", second_variant, 256},
    {"q8_0", nullptr, "encode_q8_0", none, 64, true},
    {"q4_0", nullptr, "encode_q4_0", none, 64, true, Importance::RowWeighted, Interface::Units, 0},
    {"q4_1", nullptr, "encode_q4_1", none, 64, true, Importance::RowWeighted, Interface::Units, 1},
    {"q5_0", nullptr, "encode_q5_0", none, 64, true, Importance::RowWeighted, Interface::Units, 2},
    {"q5_1", nullptr, "encode_q5_1", none, 64, true, Importance::RowWeighted, Interface::Units, 3},
    {"nf4", nullptr, "encode_scaled_float", kind<0>, 64, true},
    {"fp4", nullptr, "encode_scaled_float", kind<1>, 64, true},
    {"mxfp4", nullptr, "encode_scaled_float", kind<2>, 64, true},
    {"mxint8", nullptr, "encode_scaled_float", kind<3>, 64, true},
    {"q4_k", nullptr, "encode_kquant", kind<0>, 64, true, Importance::Columns, Interface::Columns, 0, 8},
    {"q6_k", nullptr, "encode_kquant", kind<1>, 64, true, Importance::Columns, Interface::Columns, 0, 16},
    {"q5_k", nullptr, "encode_kquant", kind<2>, 64, true, Importance::Columns, Interface::Columns, 0, 8},
    {"q2_k", nullptr, "encode_kquant", kind<3>, 64, true, Importance::Columns, Interface::Columns, 0, 16},
    {"q3_k", nullptr, "encode_kquant", kind<4>, 64, true, Importance::Columns, Interface::Columns, 0, 16},
    {"iq4_xs", nullptr, "encode_iq4", kind<0>, 64, true, Importance::Columns, Interface::Columns},
    {"iq4_nl", nullptr, "encode_iq4", kind<1>, 64, true, Importance::Columns, Interface::Columns},
    {"", is_unit_grid, "encode_grid", grid_constants, 64, true, Importance::Columns, Interface::Columns},
};

// llvmpipe (lavapipe) ends every loop of an invocation once the shader's loops have run 65535 iterations
// in total (one counter for the whole inlined shader), silently: later loops run once. Keep a kernel's
// loop iterations per invocation well below that (scale_search.inc's grid_nearest has no loops for this;
// encode_grid takes units of at most one piece, longer ones go to tensor_grid_kernel.h).

const Encoder* find_encoder(const FormatInfo& format) {
    for (const Encoder& encoder : kEncoders)
        if (encoder.format == format.name || (encoder.in_family && encoder.in_family(format))) return &encoder;
    return nullptr;
}

// encode_grid's and encode_kquant's push constants.
struct ColumnsPush {
    uint32_t groups, first_group, groups_per_row, weighted;
};

// ---- streaming -------------------------------------------------------------------------------------

// Units of one format in device chunks: unit u holds values [u * unit_values, ...) and bytes
// [u * unit_bytes, ...) of the whole tensor.
struct UnitGeometry {
    uint64_t units = 0;
    uint64_t units_per_row = 0;
    uint64_t units_per_chunk = 0;
    StoredLayout layout;

    uint64_t chunks() const { return (units + units_per_chunk - 1) / units_per_chunk; }
    uint64_t first(uint64_t chunk) const { return chunk * units_per_chunk; }
    uint64_t count(uint64_t chunk) const { return std::min(units_per_chunk, units - first(chunk)); }
};

// whole_rows: chunks of whole rows (kernels that need a row's statistics).
UnitGeometry geometry(const Device& device, const FormatInfo& format, int64_t rows, int64_t cols, VkDeviceSize budget,
                      bool whole_rows = false) {
    if (auto problem = format.shape_problem(cols); !problem.empty()) throw Error("format " + format.name, problem);
    const std::optional<StoredLayout> layout = stored_layout(format, cols);
    if (!layout) throw Error("format " + format.name, "has no GPU kernel");
    UnitGeometry g;
    g.layout = *layout;
    g.units_per_row = uint64_t(cols) / layout->unit_values;
    g.units = uint64_t(rows) * g.units_per_row;
    const uint64_t widest = std::max<uint64_t>(uint64_t(layout->unit_values) * sizeof(float), layout->unit_bytes);
    g.units_per_chunk = std::max<uint64_t>(1, chunk_bytes_limit(device, budget) / widest);
    if (whole_rows) g.units_per_chunk = std::max<uint64_t>(1, g.units_per_chunk / g.units_per_row) * g.units_per_row;
    if (widest * (whole_rows ? g.units_per_row : 1) > chunk_bytes_limit(device, 0))
        throw Error("format " + format.name, "a row does not fit in a GPU buffer");
    return g;
}

// Host memory of a unit kernel: unit u reads source_bytes at src + u * source_bytes and writes
// target_bytes at dst + u * target_bytes.
struct UnitStream {
    const std::byte* src;
    uint64_t source_bytes;
    std::byte* dst;
    uint64_t target_bytes;
};

// record(chunk, sequence, input, output, first unit, unit count) records the chunk's dispatch.
template <typename Record>
StreamTiming stream_units(Device& device, const UnitGeometry& g, const UnitStream& io, const JobControl* job,
                          const char* what, Record&& record) {
    ChunkStream stream;
    stream.chunks = g.chunks();
    stream.max_input_bytes = g.units_per_chunk * io.source_bytes;
    stream.max_output_bytes = g.units_per_chunk * io.target_bytes;
    stream.fill = [&](uint64_t k, std::span<std::byte> input) {
        const size_t bytes = g.count(k) * io.source_bytes;
        std::memcpy(input.data(), io.src + g.first(k) * io.source_bytes, bytes);
        return VkDeviceSize(bytes);
    };
    stream.record = [&](uint64_t k, Sequence& s, const Buffer& in, const Buffer& out) {
        record(s, in, out, g.first(k), g.count(k));
    };
    stream.output_bytes = [&](uint64_t k) { return VkDeviceSize(g.count(k) * io.target_bytes); };
    stream.harvest = [&](uint64_t k, std::span<const std::byte> output) {
        std::memcpy(io.dst + g.first(k) * io.target_bytes, output.data(), output.size());
    };
    return run_stream(device, stream, job, what);
}

uint64_t groups_for(uint64_t invocations, uint32_t workgroup) { return (invocations + workgroup - 1) / workgroup; }

// encode_legacy_weighted's push constants.
struct LegacyWeightedPush {
    uint32_t blocks, blocks_per_row;
};

// Importance-weighted q4_0 / q4_1 / q5_0 / q5_1: per chunk of whole rows, the rows' mean squares, then
// the blocks' searches.
StreamTiming encode_legacy_weighted_on(Device& device, const FormatInfo& format, const Encoder& encoder, int64_t rows,
                                       int64_t cols, const float* src, uint8_t* dst, const float* importance,
                                       VkDeviceSize chunk_budget, const JobControl* job) {
    const UnitGeometry g = geometry(device, format, rows, cols, chunk_budget, true);
    const UnitStream io{reinterpret_cast<const std::byte*>(src), uint64_t(g.layout.unit_values) * sizeof(float),
                        reinterpret_cast<std::byte*>(dst), g.layout.unit_bytes};
    const Pipeline& mean_squares = device.pipeline({"row_mean_square", {64}, 2, 2 * sizeof(uint32_t)});
    const Pipeline& search = device.pipeline({"encode_legacy_weighted", {encoder.workgroup, encoder.legacy_type}, 4,
                                              sizeof(LegacyWeightedPush)});
    ResidentBuffer weights(device, size_t(cols) * sizeof(float));
    weights.write(importance, size_t(cols) * sizeof(float));
    const size_t row_slots = size_t(g.units_per_chunk / g.units_per_row) * sizeof(float);
    ResidentBuffer slot_mean_squares[2] = {ResidentBuffer(device, row_slots), ResidentBuffer(device, row_slots)};
    return stream_units(device, g, io, job, "encode",
                        [&](Sequence& s, const Buffer& in, const Buffer& out, uint64_t first, uint64_t count) {
                            const Buffer& scratch = slot_mean_squares[first / g.units_per_chunk % 2].buffer();
                            const uint32_t shape[2] = {uint32_t(count / g.units_per_row), uint32_t(cols)};
                            s.dispatch(mean_squares, {&in, &scratch}, shape, groups_for(shape[0], 64));
                            const LegacyWeightedPush p{uint32_t(count), uint32_t(g.units_per_row)};
                            s.dispatch(search, {&in, &out, &weights.buffer(), &scratch}, &p,
                                       groups_for(count, encoder.workgroup));
                        });
}

}  // namespace

std::vector<uint32_t> StoredLayout::constants(uint32_t workgroup) const {
    return {workgroup, format, unit_values, unit_bytes, grid_bits, uint32_t(grid_asymmetric)};
}

std::optional<StoredLayout> stored_layout(const FormatInfo& format, int64_t cols) {
    if (!format.shape_problem(cols).empty()) return std::nullopt;
    if (is_unit_grid(format)) {
        const bool per_row = format.grid.group == kPerChannel;
        return StoredLayout{kGrid, uint32_t(per_row ? cols : format.grid.group),
                            uint32_t(per_row ? format.row_bytes(cols) : format.block_bytes), uint32_t(format.grid.bits),
                            format.grid.asymmetric};
    }
    for (const auto& [name, id] : kStoredFormats)
        if (name == format.name) return StoredLayout{id, uint32_t(format.block_values), uint32_t(format.block_bytes)};
    return std::nullopt;
}

bool can_encode_on(const Device& device, const FormatInfo& format, bool with_importance) {
    if (is_tensor_grid(format)) return device.info().float64;  // encode_grid_tensor divides
    const Encoder* encoder = find_encoder(format);
    return encoder && (!encoder->divides || device.info().float64);
}

bool can_decode_on(const Device&, const FormatInfo& format) {
    if (format.block_values == 0) return is_unit_grid(format) || is_tensor_grid(format);
    return stored_layout(format, format.block_values).has_value();
}

StreamTiming encode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const float* src,
                       uint8_t* dst, const float* importance, VkDeviceSize chunk_budget, const JobControl* job) {
    if (encodes_grid_by_pieces(format, cols))
        return encode_grid_by_pieces_on(device, format, rows, cols, src, dst, importance, chunk_budget, job);
    const Encoder* encoder = find_encoder(format);
    if (!encoder) throw Error("format " + format.name, "has no GPU encoder");
    if (importance && encoder->importance == Importance::RowWeighted)
        return encode_legacy_weighted_on(device, format, *encoder, rows, cols, src, dst, importance, chunk_budget, job);
    const UnitGeometry g = geometry(device, format, rows, cols, chunk_budget);
    const UnitStream io{reinterpret_cast<const std::byte*>(src), uint64_t(g.layout.unit_values) * sizeof(float),
                        reinterpret_cast<std::byte*>(dst), g.layout.unit_bytes};
    const Constants c = encoder->constants(format, g.layout.unit_values);
    const bool columns = encoder->interface == Interface::Columns;
    const uint32_t bindings = columns ? 3 : 2;
    const uint32_t push_bytes = columns ? sizeof(ColumnsPush) : sizeof(uint32_t);
    const Pipeline& pipeline = device.pipeline({std::string(encoder->shader), {encoder->workgroup, c[0], c[1], c[2], c[3]},
                                                bindings, push_bytes});
    const bool weighted = encoder->importance == Importance::Columns && importance;
    ResidentBuffer weights(device, weighted ? size_t(cols) * sizeof(float) : 4);
    if (weighted) weights.write(importance, size_t(cols) * sizeof(float));
    return stream_units(device, g, io, job, "encode",
                        [&](Sequence& s, const Buffer& in, const Buffer& out, uint64_t first, uint64_t count) {
                            const uint64_t groups = groups_for(count * encoder->invocations_per_unit, encoder->workgroup);
                            const uint32_t units = uint32_t(count);
                            const ColumnsPush push{units, uint32_t(first % g.units_per_row), uint32_t(g.units_per_row),
                                                   uint32_t(weighted)};
                            if (columns)
                                s.dispatch(pipeline, {&in, &out, &weights.buffer()}, &push, groups);
                            else
                                s.dispatch(pipeline, {&in, &out}, &units, groups);
                        });
}

constexpr uint32_t kDecodeWorkgroup = 256;

ValueDecoder value_decoder(Device& device, const StoredLayout& layout) {
    const uint32_t run = layout.unit_values % 8 == 0 ? 8 : 1;  // decode_values' RUN (specialization constant 6)
    std::vector<uint32_t> constants = layout.constants(kDecodeWorkgroup);
    constants.push_back(run);
    return {device.pipeline({"decode_values", constants, 2, sizeof(uint32_t)}), run};
}

void ValueDecoder::record(Sequence& sequence, const Buffer& in, const Buffer& out, uint64_t values) const {
    const uint32_t count = uint32_t(values);
    sequence.dispatch(pipeline, {&in, &out}, &count, groups_for(values / run, kDecodeWorkgroup));
}

StreamTiming decode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src,
                       float* dst, VkDeviceSize chunk_budget, const JobControl* job) {
    if (is_tensor_grid(format)) return decode_tensor_grid_on(device, format, rows, cols, src, dst, chunk_budget, job);
    const UnitGeometry g = geometry(device, format, rows, cols, chunk_budget);
    const UnitStream io{reinterpret_cast<const std::byte*>(src), g.layout.unit_bytes, reinterpret_cast<std::byte*>(dst),
                        uint64_t(g.layout.unit_values) * sizeof(float)};
    const ValueDecoder decoder = value_decoder(device, g.layout);
    return stream_units(device, g, io, job, "decode",
                        [&](Sequence& s, const Buffer& in, const Buffer& out, uint64_t, uint64_t count) {
                            decoder.record(s, in, out, count * g.layout.unit_values);
                        });
}

}  // namespace qb::gpu
