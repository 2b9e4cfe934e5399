// Hessian accumulation XᵀX on the GPU (xtx.comp) with the CPU accumulator's semantics and result type
// (core/analysis/hessian.h): tokens in blocks of HessianAccumulator::kTokensPerProduct are summed in f32
// per tile, each block product added into an f64 matrix that stays on the device (in slabs of rows that
// each fit one storage binding), the upper triangle computed and mirrored by finish(). Needs
// shaderFloat64.
// Accuracy: each f32 block sum is within kTokensPerProduct x 2^-24 x Σ_t |x_ti x_tj| of the exact one,
// as the CPU's; the two differ by summation order only.
#pragma once
#include <cstdint>
#include <vector>

#include "core/analysis/hessian.h"
#include "gpu/chunk_stream.h"
#include "gpu/resident_buffer.h"

namespace qb::gpu {

bool can_accumulate_hessian_on(const Device& device, int64_t dim);

class DeviceHessian {
public:
    // slab_budget: largest buffer of sums (0: the device's limit; tests force several slabs with it).
    // Throws Error when the device cannot.
    DeviceHessian(Device& device, int64_t dim, VkDeviceSize slab_budget = 0);

    // Adds Σ_t x_t x_tᵀ of `rows` tokens (x: rows x dim, row-major).
    StreamTiming add(const float* x, int64_t rows);
    int64_t tokens() const { return tokens_; }
    // H normalised by tokens() (all zero while no token was added).
    HessianMatrix finish() &&;

private:
    struct Slab {
        int64_t first_row, rows;
        ResidentBuffer sums;  // rows x dim doubles
    };

    Device& device_;
    int64_t dim_;
    int64_t tokens_ = 0;
    std::vector<Slab> slabs_;
};

}  // namespace qb::gpu
