#include "gpu/tensor_grid_kernel.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/formulas/formulas.h"
#include "core/quant/format.h"
#include "core/quant/grid_math.h"
#include "core/util/error.h"
#include "gpu/codec_kernels.h"
#include "gpu/resident_buffer.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

constexpr uint32_t kWorkgroup = 64;
constexpr uint64_t kPiece = uint64_t(formula::grid_tensor_piece);
constexpr uint64_t kCandidates = uint64_t(formula::grid_clip_steps) + 1;

// encode_grid_tensor.comp's stages and push constants.
enum Stage : uint32_t { kRange, kClipErrors, kCodes };
struct Push {
    uint32_t invocations, cols, pieces_per_row, row_bytes, weighted, first_line, lines_per_row;
};

uint64_t groups_for(uint64_t invocations) { return (invocations + kWorkgroup - 1) / kWorkgroup; }

// Whole rows per chunk, rows_per_chunk of them (the last chunk fewer).
struct RowChunks {
    uint64_t rows = 0;
    uint64_t rows_per_chunk = 1;
    uint64_t chunks() const { return (rows + rows_per_chunk - 1) / rows_per_chunk; }
    uint64_t first(uint64_t chunk) const { return chunk * rows_per_chunk; }
    uint64_t count(uint64_t chunk) const { return std::min(rows_per_chunk, rows - first(chunk)); }
};

// widest_row: the most bytes a row takes in any buffer of a chunk.
RowChunks row_chunks(const Device& device, const FormatInfo& format, int64_t rows, uint64_t widest_row,
                     VkDeviceSize budget) {
    if (widest_row > chunk_bytes_limit(device, 0)) throw Error("format " + format.name, "a row does not fit in a GPU buffer");
    return {uint64_t(rows), std::max<uint64_t>(1, chunk_bytes_limit(device, budget) / widest_row)};
}

// Streams the rows: fill(first row, rows, input) writes rows * input_row bytes, record(sequence, input,
// output, first row, rows) records the kernels, harvest(first row, rows, output) takes rows * output_row
// bytes, chunk after chunk.
template <typename Fill, typename Record, typename Harvest>
StreamTiming stream_rows(Device& device, const RowChunks& c, uint64_t input_row, uint64_t output_row,
                         const JobControl* job, const char* what, Fill&& fill, Record&& record, Harvest&& harvest) {
    ChunkStream stream;
    stream.chunks = c.chunks();
    stream.max_input_bytes = c.rows_per_chunk * input_row;
    stream.max_output_bytes = c.rows_per_chunk * output_row;
    stream.fill = [&](uint64_t k, std::span<std::byte> input) {
        fill(c.first(k), c.count(k), input);
        return VkDeviceSize(c.count(k) * input_row);
    };
    stream.record = [&](uint64_t k, Sequence& s, const Buffer& in, const Buffer& out) {
        record(s, in, out, c.first(k), c.count(k));
    };
    stream.output_bytes = [&](uint64_t k) { return VkDeviceSize(c.count(k) * output_row); };
    stream.harvest = [&](uint64_t k, std::span<const std::byte> output) { harvest(c.first(k), c.count(k), output); };
    return run_stream(device, stream, job, what);
}

// Records as the shader reads them: f16 scale bits, zero point above.
std::vector<uint32_t> record_bits(std::span<const grid::Scale> scales) {
    std::vector<uint32_t> bits(scales.size());
    for (size_t i = 0; i < scales.size(); ++i) bits[i] = uint32_t(scales[i].s_f16) | uint32_t(scales[i].zero) << 16;
    return bits;
}

// The per-channel grid of the same bits and symmetry: a pt row with the record in front is its row.
const FormatInfo& per_channel_twin(const FormatInfo& format) {
    std::string name = "int" + std::to_string(format.grid.bits);
    name += format.grid.asymmetric ? "_pc_asym" : "_pc_sym";
    return format_by_name(name);
}

}  // namespace

bool is_tensor_grid(const FormatInfo& format) {
    return format.kind == FormatKind::IntGrid && format.grid.group == kPerTensor;
}

bool encodes_grid_by_pieces(const FormatInfo& format, int64_t cols) {
    if (format.kind != FormatKind::IntGrid) return false;
    const int64_t unit = format.grid.group > 0 ? format.grid.group : cols;
    return is_tensor_grid(format) || unit > formula::grid_tensor_piece;
}

StreamTiming encode_grid_by_pieces_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                      const float* src, uint8_t* dst, const float* importance, VkDeviceSize chunk_budget,
                                      const JobControl* job) {
    if (format.kind != FormatKind::IntGrid) throw Error("format " + format.name, "is not an integer grid");
    if (auto problem = format.shape_problem(cols); !problem.empty()) throw Error("format " + format.name, problem);
    const GridParams& g = format.grid;
    // Lines: the tensor's rows (pt), or its units (pc: rows, g<N>: groups), each with its own record.
    const bool per_unit = !is_tensor_grid(format);
    const uint64_t line_values = per_unit && g.group > 0 ? uint64_t(g.group) : uint64_t(cols);
    const uint64_t lines_per_row = uint64_t(cols) / line_values;
    const uint64_t lines = uint64_t(rows) * lines_per_row;
    const uint64_t records = per_unit ? lines : 1;
    const uint64_t pieces_per_line = (line_values + kPiece - 1) / kPiece;
    const uint64_t input_line = line_values * sizeof(float);
    const uint64_t range_line = pieces_per_line * 2 * sizeof(float);
    const uint64_t errors_line = g.clip_search ? pieces_per_line * kCandidates * sizeof(double) : 0;
    const uint64_t output_line = per_unit ? grid::record_bytes(g) + grid::code_bytes(g.bits, int64_t(line_values))
                                          : format.row_bytes(cols);
    const RowChunks c = row_chunks(device, format, int64_t(lines), std::max({input_line, range_line, errors_line, output_line}),
                                   chunk_budget);

    const bool weighted = importance && g.clip_search;  // without the search the importance changes nothing
    ResidentBuffer weights(device, weighted ? size_t(cols) * sizeof(float) : 4);
    if (weighted) weights.write(importance, size_t(cols) * sizeof(float));
    // Stage 1: every record's candidates; stage 2: the records.
    ResidentBuffer candidates(device, (g.clip_search ? records * kCandidates : 1) * sizeof(uint32_t));
    ResidentBuffer chosen(device, records * sizeof(uint32_t));
    auto pipeline = [&](Stage stage) -> const Pipeline& {
        return device.pipeline({"encode_grid_tensor",
                                {kWorkgroup, uint32_t(g.bits), uint32_t(g.asymmetric), stage, uint32_t(per_unit)}, 6,
                                sizeof(Push)});
    };
    const Push base{0, uint32_t(line_values), uint32_t(pieces_per_line), uint32_t(output_line), uint32_t(weighted), 0,
                    uint32_t(lines_per_row)};
    // Records a stage over the chunk's pieces (times `per_piece` invocations), records bound at binding 5.
    auto dispatch = [&](const Pipeline& p, uint64_t per_piece, const ResidentBuffer& bound) {
        return [&p, &base, per_piece, pieces_per_line, &weights, &bound](Sequence& s, const Buffer& in, const Buffer& out,
                                                                         uint64_t first, uint64_t count) {
            Push q = base;
            q.invocations = uint32_t(count * pieces_per_line * per_piece);
            q.first_line = uint32_t(first);
            s.dispatch(p, {&in, &out, &out, &out, &weights.buffer(), &bound.buffer()}, &q, groups_for(q.invocations));
        };
    };
    auto fill = [&](uint64_t first, uint64_t count, std::span<std::byte> input) {
        std::memcpy(input.data(), src + first * line_values, count * input_line);
    };
    auto record_of = [&](uint64_t line) { return per_unit ? line : 0; };

    // The ranges: the pieces' extremes, combined as the CPU gathers them (NaN ignored, 0 included).
    std::vector<float> lo(records, 0.0f), hi(records, 0.0f);
    StreamTiming timing = stream_rows(device, c, input_line, range_line, job, "range", fill,
                                      dispatch(pipeline(kRange), 1, chosen),
                                      [&](uint64_t first, uint64_t count, std::span<const std::byte> output) {
                                          const auto* r = reinterpret_cast<const float*>(output.data());
                                          for (uint64_t i = 0; i < count * pieces_per_line; ++i) {
                                              const uint64_t at = record_of(first + i / pieces_per_line);
                                              lo[at] = formula::fmin_number(lo[at], r[2 * i]);
                                              hi[at] = formula::fmax_number(hi[at], r[2 * i + 1]);
                                          }
                                      });
    std::vector<grid::Scale> scale(records);
    for (uint64_t at = 0; at < records; ++at) scale[at] = grid::range_scale(g, lo[at], hi[at]);

    // The clipping search: each candidate's error, the pieces' sums added up in piece order.
    if (g.clip_search) {
        std::vector<grid::Scale> candidate(records * kCandidates);
        for (uint64_t at = 0; at < records; ++at)
            for (uint64_t k = 0; k < kCandidates; ++k)
                candidate[at * kCandidates + k] = grid::clip_candidate(g, lo[at], hi[at], int(k));
        const std::vector<uint32_t> candidate_bits = record_bits(candidate);
        candidates.write(candidate_bits.data(), candidate_bits.size() * sizeof(uint32_t));
        std::vector<double> errors(records * kCandidates, 0.0);
        timing += stream_rows(device, c, input_line, errors_line, job, "clipping search", fill,
                              dispatch(pipeline(kClipErrors), kCandidates, candidates),
                              [&](uint64_t first, uint64_t count, std::span<const std::byte> output) {
                                  const auto* e = reinterpret_cast<const double*>(output.data());
                                  for (uint64_t piece = 0; piece < count * pieces_per_line; ++piece) {
                                      double* sum = errors.data() + record_of(first + piece / pieces_per_line) * kCandidates;
                                      for (uint64_t k = 0; k < kCandidates; ++k) sum[k] += e[piece * kCandidates + k];
                                  }
                              });
        for (uint64_t at = 0; at < records; ++at)
            scale[at] = candidate[at * kCandidates + uint64_t(grid::best_clip_candidate(errors.data() + at * kCandidates))];
    }
    const std::vector<uint32_t> chosen_bits = record_bits(scale);
    chosen.write(chosen_bits.data(), chosen_bits.size() * sizeof(uint32_t));

    // pt: the header, then the codes of every row; otherwise every line's record and codes.
    uint8_t* body = dst;
    if (!per_unit) {
        grid::write_record(g, scale[0], dst);
        body += format.header_bytes;
    }
    timing += stream_rows(device, c, input_line, output_line, job, "encode", fill, dispatch(pipeline(kCodes), 1, chosen),
                          [&](uint64_t first, uint64_t, std::span<const std::byte> output) {
                              std::memcpy(body + first * output_line, output.data(), output.size());
                          });
    return timing;
}

StreamTiming decode_tensor_grid_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                   const uint8_t* src, float* dst, VkDeviceSize chunk_budget, const JobControl* job) {
    if (!is_tensor_grid(format)) throw Error("format " + format.name, "is not a per-tensor grid");
    if (auto problem = format.shape_problem(cols); !problem.empty()) throw Error("format " + format.name, problem);
    const StoredLayout layout = *stored_layout(per_channel_twin(format), cols);
    const uint64_t record = format.header_bytes;
    const uint64_t codes_row = format.row_bytes(cols);
    const uint64_t input_row = record + codes_row;  // == layout.unit_bytes
    const uint64_t output_row = uint64_t(cols) * sizeof(float);
    const RowChunks c = row_chunks(device, format, rows, std::max(input_row, output_row), chunk_budget);
    const ValueDecoder decoder = value_decoder(device, layout);
    const uint8_t* body = src + record;
    return stream_rows(
        device, c, input_row, output_row, job, "decode",
        [&](uint64_t first, uint64_t count, std::span<std::byte> input) {
            for (uint64_t r = 0; r < count; ++r) {
                std::memcpy(input.data() + r * input_row, src, record);
                std::memcpy(input.data() + r * input_row + record, body + (first + r) * codes_row, codes_row);
            }
        },
        [&](Sequence& s, const Buffer& in, const Buffer& out, uint64_t, uint64_t count) {
            decoder.record(s, in, out, count * uint64_t(cols));
        },
        [&](uint64_t first, uint64_t, std::span<const std::byte> output) {
            std::memcpy(dst + first * uint64_t(cols), output.data(), output.size());
        });
}

}  // namespace qb::gpu
