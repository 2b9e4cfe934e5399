#include "gpu/codec_kernels.h"

#include <algorithm>
#include <cstring>

#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

using Constants = std::array<uint32_t, 3>;

Constants none(const FormatInfo&) { return {}; }
Constants second_variant(const FormatInfo&) { return {1, 0, 0}; }
Constants grid_constants(const FormatInfo& f) {
    return {uint32_t(f.grid.bits), uint32_t(f.grid.group), uint32_t(f.grid.asymmetric)};
}

// Integer grids with a group size: per-channel / per-tensor scales and the clipping search stay on the CPU.
bool is_group_grid(const FormatInfo& f) { return f.kind == FormatKind::IntGrid && f.grid.group > 0 && !f.grid.clip_search; }

constexpr CodecKernel kCodecKernels[] = {
    {"f16", nullptr, "encode_half", "decode_half", none, 256},
    {"bf16", nullptr, "encode_half", "decode_half", second_variant, 256},
    {"fp8_e4m3", nullptr, "encode_fp8", "decode_fp8", none, 256},
    {"fp8_e5m2", nullptr, "encode_fp8", "decode_fp8", second_variant, 256},
    {"q8_0", nullptr, "encode_q8_0", "decode_q8_0", none, 64, true},
    {"q4_0", nullptr, "encode_q4_0", "decode_q4_0", none, 64, true, true},
    {"", is_group_grid, "encode_grid", "decode_grid", grid_constants, 64, true},
};

// Blocks of one format in device chunks: block b holds values [b * block_values, ...) and bytes
// [b * block_bytes, ...) of the whole tensor.
struct BlockGeometry {
    uint64_t blocks = 0;
    uint64_t values_per_block = 0;
    uint64_t bytes_per_block = 0;
    uint64_t blocks_per_chunk = 0;

    uint64_t chunks() const { return (blocks + blocks_per_chunk - 1) / blocks_per_chunk; }
    uint64_t first(uint64_t chunk) const { return chunk * blocks_per_chunk; }
    uint64_t count(uint64_t chunk) const { return std::min(blocks_per_chunk, blocks - first(chunk)); }
};

const CodecKernel& kernel_for(const FormatInfo& format) {
    const CodecKernel* kernel = find_codec_kernel(format);
    if (!kernel) throw Error("format " + format.name, "has no GPU kernel");
    return *kernel;
}

BlockGeometry geometry(const Device& device, const FormatInfo& format, int64_t rows, int64_t cols, VkDeviceSize budget) {
    if (auto problem = format.shape_problem(cols); !problem.empty()) throw Error("format " + format.name, problem);
    BlockGeometry g;
    g.values_per_block = uint64_t(format.block_values);
    g.bytes_per_block = format.block_bytes;
    g.blocks = uint64_t(rows) * uint64_t(cols) / g.values_per_block;
    const VkDeviceSize limit = chunk_bytes_limit(device, budget);
    const uint64_t widest = std::max(g.values_per_block * sizeof(float), g.bytes_per_block);
    g.blocks_per_chunk = std::max<uint64_t>(1, limit / widest);
    return g;
}

const Pipeline& pipeline_for(Device& device, std::string_view shader, const CodecKernel& kernel, const FormatInfo& format) {
    const Constants c = kernel.constants(format);
    return device.pipeline({std::string(shader), {kernel.workgroup, c[0], c[1], c[2]}, 2, sizeof(uint32_t)});
}

// Host memory of a block kernel: block b reads source_bytes at src + b * source_bytes and writes
// target_bytes at dst + b * target_bytes.
struct BlockStream {
    const std::byte* src;
    uint64_t source_bytes;
    std::byte* dst;
    uint64_t target_bytes;
};

StreamTiming stream_blocks(Device& device, const Pipeline& pipeline, const BlockGeometry& g, const BlockStream& io,
                           const JobControl* job, const char* what) {
    ChunkStream stream;
    stream.chunks = g.chunks();
    stream.max_input_bytes = g.blocks_per_chunk * io.source_bytes;
    stream.max_output_bytes = g.blocks_per_chunk * io.target_bytes;
    stream.fill = [&](uint64_t k, std::span<std::byte> input) {
        const size_t bytes = g.count(k) * io.source_bytes;
        std::memcpy(input.data(), io.src + g.first(k) * io.source_bytes, bytes);
        return VkDeviceSize(bytes);
    };
    stream.record = [&](uint64_t k, Sequence& s, const Buffer& in, const Buffer& out) {
        const uint32_t count = uint32_t(g.count(k));
        s.dispatch(pipeline, {&in, &out}, &count, (count + pipeline.workgroup_size() - 1) / pipeline.workgroup_size());
    };
    stream.output_bytes = [&](uint64_t k) { return VkDeviceSize(g.count(k) * io.target_bytes); };
    stream.harvest = [&](uint64_t k, std::span<const std::byte> output) {
        std::memcpy(io.dst + g.first(k) * io.target_bytes, output.data(), output.size());
    };
    return run_stream(device, stream, job, what);
}

bool has_kernel_shape(const FormatInfo& format) { return format.block_values >= 1 && format.header_bytes == 0; }

}  // namespace

const CodecKernel* find_codec_kernel(const FormatInfo& format) {
    for (const CodecKernel& kernel : kCodecKernels)
        if (kernel.format == format.name || (kernel.in_family && kernel.in_family(format))) return &kernel;
    return nullptr;
}

bool can_encode_on(const Device& device, const FormatInfo& format, bool with_importance) {
    const CodecKernel* kernel = find_codec_kernel(format);
    return kernel && has_kernel_shape(format) && !(with_importance && kernel->importance_changes_code) &&
           (!kernel->encoder_divides || device.info().float64);
}

bool can_decode_on(const Device&, const FormatInfo& format) {
    return find_codec_kernel(format) && has_kernel_shape(format);
}

StreamTiming encode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const float* src,
                       uint8_t* dst, VkDeviceSize chunk_budget, const JobControl* job) {
    const CodecKernel& kernel = kernel_for(format);
    const BlockGeometry g = geometry(device, format, rows, cols, chunk_budget);
    const BlockStream blocks{reinterpret_cast<const std::byte*>(src), g.values_per_block * sizeof(float),
                             reinterpret_cast<std::byte*>(dst), g.bytes_per_block};
    return stream_blocks(device, pipeline_for(device, kernel.encode_shader, kernel, format), g, blocks, job, "encode");
}

StreamTiming decode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src,
                       float* dst, VkDeviceSize chunk_budget, const JobControl* job) {
    const CodecKernel& kernel = kernel_for(format);
    const BlockGeometry g = geometry(device, format, rows, cols, chunk_budget);
    const BlockStream blocks{reinterpret_cast<const std::byte*>(src), g.bytes_per_block,
                             reinterpret_cast<std::byte*>(dst), g.values_per_block * sizeof(float)};
    return stream_blocks(device, pipeline_for(device, kernel.decode_shader, kernel, format), g, blocks, job, "decode");
}

}  // namespace qb::gpu
