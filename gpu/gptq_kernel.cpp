#include "gpu/gptq_kernel.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/util/clock.h"
#include "core/util/error.h"
#include "gpu/vk_device.h"

namespace qb::gpu {
namespace {

constexpr uint32_t kTile = 64;  // gptq_update.comp: TILE
constexpr uint32_t kWorkgroup = 64;
constexpr uint64_t kMaxIndex = uint64_t(1) << 31;  // the shader indexes floats with 32-bit integers

// gptq_update.comp push constants.
struct Params {
    uint32_t rows, first_row, w_stride, col_begin, col_end, depth, u_first_col, u_stride, panel_on, tiles_x;
};

using Clock = std::chrono::steady_clock;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t buffer_limit(const Device& device, VkDeviceSize slab_budget) {
    return std::min<uint64_t>(chunk_bytes_limit(device, slab_budget), kMaxIndex);
}

}  // namespace

bool can_update_gptq_on(const Device& device, int64_t rows, int64_t cols, int64_t block, VkDeviceSize slab_budget) {
    const uint64_t limit = buffer_limit(device, slab_budget), f = sizeof(float);
    return rows >= 1 && cols >= 1 && block >= 1 && uint64_t(cols) * f <= limit &&  // one row per slab
           uint64_t(rows) * uint64_t(std::min(block, cols)) * f <= limit &&           // errors, panel
           uint64_t(std::min(block, cols)) * uint64_t(cols) * f <= limit;              // U's block rows
}

DeviceGptqUpdater::DeviceGptqUpdater(Device& device, float* w, int64_t rows, int64_t cols, const float* u,
                                     VkDeviceSize slab_budget)
    : device_(device), w_(w), rows_(rows), cols_(cols), u_(u), head_(device), tail_(device) {
    if (!can_update_gptq_on(device, rows, cols, 1, slab_budget))
        throw Error("gptq", "'" + device.info().name + "' cannot hold rows of " + std::to_string(cols) + " values");
    const auto start = Clock::now();
    const uint64_t row_bytes = uint64_t(cols) * sizeof(float);
    const int64_t rows_per_slab = int64_t(buffer_limit(device, slab_budget) / row_bytes);
    for (int64_t first = 0; first < rows; first += rows_per_slab) {
        const int64_t count = std::min(rows_per_slab, rows - first);
        Slab& slab = slabs_.emplace_back(Slab{first, count, ResidentBuffer(device, size_t(count) * row_bytes)});
        slab.values.write(w + first * cols, size_t(count) * row_bytes);
    }
    timing_.host_copy_s += seconds_since(start);
}

DeviceGptqUpdater::~DeviceGptqUpdater() = default;  // tail_ (destroyed before the buffers) waits for its work

void DeviceGptqUpdater::ensure(std::optional<ResidentBuffer>& buffer, size_t& capacity, size_t bytes) {
    if (buffer && capacity >= bytes) return;
    buffer.reset();
    buffer.emplace(device_, bytes);
    capacity = bytes;
}

void DeviceGptqUpdater::finish_pending() {
    if (!tail_.pending()) return;
    tail_.wait();
    if (const std::vector<double> marks = tail_.mark_seconds(); marks.size() == 2) timing_.kernel_s += marks[1];
}

void DeviceGptqUpdater::dispatch_all(Sequence& s, int64_t col_begin, int64_t col_end, int64_t i2, int64_t depth,
                                     bool panel) {
    const Pipeline& pipeline = device_.pipeline({"gptq_update", {kWorkgroup}, 4, sizeof(Params)});
    const uint32_t tiles_x = uint32_t(ceil_div(uint64_t(col_end - col_begin), kTile));
    for (const Slab& slab : slabs_) {
        const Params p{uint32_t(slab.rows),      uint32_t(slab.first_row), uint32_t(cols_),      uint32_t(col_begin),
                       uint32_t(col_end),        uint32_t(depth),          uint32_t(i2),         uint32_t(cols_ - i2),
                       uint32_t(panel ? 1 : 0), tiles_x};
        s.dispatch(pipeline, {&slab.values.buffer(), &errors_->buffer(), &factor_->buffer(), &panel_->buffer()}, &p,
                   uint64_t(tiles_x) * ceil_div(uint64_t(slab.rows), kTile));
    }
}

void DeviceGptqUpdater::update(const float* err, int64_t i1, int64_t i2, int64_t ready_end) {
    const auto start = Clock::now();
    finish_pending();
    const int64_t depth = i2 - i1, tail = cols_ - i2;
    if (tail <= 0) {
        timing_.wall_s += seconds_since(start);
        return;
    }
    ready_end = std::clamp(ready_end, i2, cols_);
    const int64_t panel_width = std::max<int64_t>(1, ready_end - i2);
    ensure(errors_, errors_bytes_, size_t(rows_ * depth) * sizeof(float));
    ensure(factor_, factor_bytes_, size_t(depth * tail) * sizeof(float));
    ensure(panel_, panel_bytes_, size_t(rows_ * panel_width) * sizeof(float));

    auto copy_start = Clock::now();
    errors_->write(err, size_t(rows_ * depth) * sizeof(float));
    staging_.resize(size_t(depth * tail));
    for (int64_t t = 0; t < depth; ++t)
        std::memcpy(staging_.data() + t * tail, u_ + (i1 + t) * cols_ + i2, size_t(tail) * sizeof(float));
    factor_->write(staging_.data(), staging_.size() * sizeof(float));
    timing_.host_copy_s += seconds_since(copy_start);

    if (ready_end > i2) {
        head_.begin();
        head_.mark();
        dispatch_all(head_, i2, ready_end, i2, depth, true);
        head_.mark();
        head_.submit();
        head_.wait();
        if (const std::vector<double> marks = head_.mark_seconds(); marks.size() == 2) timing_.kernel_s += marks[1];
        copy_start = Clock::now();
        staging_.resize(size_t(rows_ * panel_width));
        panel_->read_into(staging_.data(), staging_.size() * sizeof(float));
        for (int64_t r = 0; r < rows_; ++r)
            std::memcpy(w_ + r * cols_ + i2, staging_.data() + r * panel_width, size_t(panel_width) * sizeof(float));
        timing_.host_copy_s += seconds_since(copy_start);
    }
    if (ready_end < cols_) {
        tail_.begin();
        tail_.mark();
        dispatch_all(tail_, ready_end, cols_, i2, depth, false);
        tail_.mark();
        tail_.submit();  // runs while the host quantizes the next block
    }
    ++timing_.chunks;
    timing_.wall_s += seconds_since(start);
}

}  // namespace qb::gpu
