#include "gpu/matmul_kernels.h"

#include <algorithm>
#include <chrono>

#include "core/quant/format.h"
#include "core/util/clock.h"
#include "core/util/error.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

constexpr int64_t kGemvMaxTokens = 8;
constexpr uint32_t kGemvRows = 8;       // gemv.comp: ROWS
constexpr uint32_t kGemvWorkgroup = 64;
constexpr uint32_t kGemmTile = 64;      // gemm.comp: TILE
constexpr uint32_t kGemmWorkgroup = 64;
// d_in per gemm.comp dispatch (a multiple of its STEP, 32): about 34,300 loop iterations per invocation,
// below the 65,535 after which llvmpipe silently ends an invocation's loops (see gemm.comp).
constexpr uint32_t kGemmDepthPerDispatch = 16384;

// gemm.comp / gemv.comp push constants.
struct Params {
    uint32_t tokens, outputs, depth, row_bytes, c_stride, c_offset, tiles_x;
    uint32_t k_begin, k_end, accumulate;  // gemm.comp only
};

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

bool can_multiply_on(const Device& device, const FormatInfo& format, int64_t cols) {
    const std::optional<StoredLayout> layout = stored_layout(format, cols);
    return layout && format.row_bytes(cols) <= chunk_bytes_limit(device, 0) &&
           uint64_t(cols) * sizeof(float) <= chunk_bytes_limit(device, 0);
}

DeviceMatrix::DeviceMatrix(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* bytes,
                           VkDeviceSize slab_budget)
    : device_(device), rows_(rows), cols_(cols), row_bytes_(uint32_t(format.row_bytes(cols))),
      slab_limit_(chunk_bytes_limit(device, slab_budget)) {
    if (!can_multiply_on(device, format, cols) || row_bytes_ > slab_limit_ || uint64_t(cols) * sizeof(float) > slab_limit_)
        throw Error("format " + format.name, "cannot be multiplied on '" + device.info().name + "' with rows of " +
                                                 std::to_string(cols) + " values");
    layout_ = *stored_layout(format, cols);
    const int64_t rows_per_slab = int64_t(slab_limit_ / row_bytes_);
    for (int64_t first = 0; first < rows; first += rows_per_slab) {
        const int64_t count = std::min(rows_per_slab, rows - first);
        Slab& slab = slabs_.emplace_back(Slab{first, count, ResidentBuffer(device, size_t(count) * row_bytes_)});
        slab.bytes.write(bytes + size_t(first) * row_bytes_, size_t(count) * row_bytes_);
    }
}

StreamTiming DeviceMatrix::multiply(const float* a, int64_t tokens, float* c) const {
    const auto start = std::chrono::steady_clock::now();
    StreamTiming timing;
    const bool few_tokens = tokens <= kGemvMaxTokens && device_.info().subgroup_arithmetic;
    std::vector<uint32_t> constants = layout_.constants(few_tokens ? kGemvWorkgroup : kGemmWorkgroup);
    if (few_tokens) constants.push_back(uint32_t(tokens));  // gemv.comp: TOKENS
    const Pipeline& pipeline = device_.pipeline({few_tokens ? "gemv" : "gemm", constants, 3, sizeof(Params)});
    const int64_t widest_row = std::max(cols_, rows_) * int64_t(sizeof(float));
    const int64_t tokens_per_slab = std::max<int64_t>(1, int64_t(slab_limit_) / widest_row);
    ResidentBuffer a_slab(device_, size_t(std::min(tokens, tokens_per_slab) * cols_) * sizeof(float));
    ResidentBuffer c_slab(device_, size_t(std::min(tokens, tokens_per_slab) * rows_) * sizeof(float));
    for (int64_t first = 0; first < tokens; first += tokens_per_slab) {
        const int64_t count = std::min(tokens_per_slab, tokens - first);
        auto copy_start = std::chrono::steady_clock::now();
        a_slab.write(a + first * cols_, size_t(count * cols_) * sizeof(float));
        timing.host_copy_s += seconds_since(copy_start);
        Sequence s(device_);
        s.begin();
        s.mark();
        for (const Slab& w : slabs_) {
            const uint32_t tiles_x = uint32_t(ceil_div(uint64_t(w.rows), kGemmTile));
            const uint64_t groups = few_tokens ? ceil_div(uint64_t(w.rows), kGemvRows) : tiles_x * ceil_div(uint64_t(count), kGemmTile);
            const uint32_t depth_per_dispatch = few_tokens ? uint32_t(cols_) : kGemmDepthPerDispatch;
            for (uint32_t k_begin = 0; k_begin < uint32_t(cols_); k_begin += depth_per_dispatch) {
                const uint32_t k_end = uint32_t(std::min<uint64_t>(uint64_t(k_begin) + depth_per_dispatch, uint64_t(cols_)));
                const Params p{uint32_t(count), uint32_t(w.rows), uint32_t(cols_), row_bytes_, uint32_t(rows_),
                               uint32_t(w.first_row), tiles_x, k_begin, k_end, k_begin > 0 ? 1u : 0u};
                s.dispatch(pipeline, {&a_slab.buffer(), &w.bytes.buffer(), &c_slab.buffer()}, &p, groups);
            }
        }
        s.mark();
        s.submit();
        s.wait();
        if (const std::vector<double> marks = s.mark_seconds(); marks.size() == 2) timing.kernel_s += marks[1];
        copy_start = std::chrono::steady_clock::now();
        c_slab.read_into(c + first * rows_, size_t(count * rows_) * sizeof(float));
        timing.host_copy_s += seconds_since(copy_start);
        ++timing.chunks;
    }
    timing.wall_s = seconds_since(start);
    return timing;
}

}  // namespace qb::gpu
