#include "gpu/hessian_kernel.h"

#include <algorithm>
#include <chrono>

#include "core/util/clock.h"
#include "core/util/error.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

constexpr uint32_t kTile = 64;  // xtx.comp: TILE
constexpr uint32_t kWorkgroup = 64;

// xtx.comp push constants.
struct Params {
    uint32_t tokens, dim, first_row, slab_rows, tiles_x;
};

}  // namespace

bool can_accumulate_hessian_on(const Device& device, int64_t dim) {
    const uint64_t limit = chunk_bytes_limit(device, 0);
    return device.info().float64 && dim >= 1 && uint64_t(dim) * sizeof(double) <= limit &&
           uint64_t(dim) * sizeof(float) * uint64_t(HessianAccumulator::kTokensPerProduct) <= limit;
}

DeviceHessian::DeviceHessian(Device& device, int64_t dim, VkDeviceSize slab_budget) : device_(device), dim_(dim) {
    const uint64_t row_bytes = uint64_t(dim) * sizeof(double);
    if (!can_accumulate_hessian_on(device, dim) || row_bytes > chunk_bytes_limit(device, slab_budget))
        throw Error("hessian", "'" + device.info().name + "' cannot accumulate a " + std::to_string(dim) + "-dimensional Hessian");
    const int64_t rows_per_slab = int64_t(chunk_bytes_limit(device, slab_budget) / row_bytes);
    for (int64_t first = 0; first < dim; first += rows_per_slab) {
        const int64_t rows = std::min(rows_per_slab, dim - first);
        Slab& slab = slabs_.emplace_back(Slab{first, rows, ResidentBuffer(device, size_t(rows * dim) * sizeof(double))});
        slab.sums.clear();
    }
}

StreamTiming DeviceHessian::add(const float* x, int64_t rows) {
    const auto start = std::chrono::steady_clock::now();
    StreamTiming timing;
    const int64_t block = HessianAccumulator::kTokensPerProduct;
    const Pipeline& pipeline = device_.pipeline({"xtx", {kWorkgroup}, 2, sizeof(Params)});
    const uint32_t tiles_x = uint32_t((uint64_t(dim_) + kTile - 1) / kTile);
    ResidentBuffer tokens(device_, size_t(std::min(rows, block) * dim_) * sizeof(float));
    for (int64_t first = 0; first < rows; first += block) {
        const int64_t count = std::min(block, rows - first);
        const auto copy_start = std::chrono::steady_clock::now();
        tokens.write(x + first * dim_, size_t(count * dim_) * sizeof(float));
        timing.host_copy_s += seconds_since(copy_start);
        Sequence s(device_);
        s.begin();
        s.mark();
        for (const Slab& slab : slabs_) {
            const Params p{uint32_t(count), uint32_t(dim_), uint32_t(slab.first_row), uint32_t(slab.rows), tiles_x};
            const uint64_t groups = uint64_t(tiles_x) * ((uint64_t(slab.rows) + kTile - 1) / kTile);
            s.dispatch(pipeline, {&tokens.buffer(), &slab.sums.buffer()}, &p, groups);
        }
        s.mark();
        s.submit();
        s.wait();
        if (const std::vector<double> marks = s.mark_seconds(); marks.size() == 2) timing.kernel_s += marks[1];
        ++timing.chunks;
    }
    tokens_ += rows;
    timing.wall_s = seconds_since(start);
    return timing;
}

HessianMatrix DeviceHessian::finish() && {
    std::vector<double> sums(size_t(dim_ * dim_));
    for (const Slab& slab : slabs_)
        slab.sums.read_into(sums.data() + slab.first_row * dim_, size_t(slab.rows * dim_) * sizeof(double));
    return hessian_from_upper_sums(dim_, tokens_, std::move(sums));
}

}  // namespace qb::gpu
