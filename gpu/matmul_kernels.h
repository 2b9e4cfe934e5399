// Dequantize-multiply for the forward pass: a weight matrix W (rows = output features, cols = input
// features, PyTorch order) in any format the shaders read in place (stored_layout), uploaded once and
// multiplied by f32 activations, C (tokens x rows) = A (tokens x cols) · Wᵀ, W's values decoded on the
// fly into shared-memory tiles (gemm.comp; gemv.comp, one subgroup per output row, for up to 8 tokens on
// devices with subgroup arithmetic) to exactly the CPU decoder's
// floats. W travels in slabs of whole rows that each fit one storage binding; A and C in slabs of
// tokens that do too. gemm.comp sums d_in in dispatches of at most 16,384 values (llvmpipe ends an
// invocation's loops after 65,535 iterations), each added to C in order after the first.
// Accuracy: f32 sums in the kernels' order; against core/infer/matmul.h on the decoded weights each
// output differs by at most kMatmulTolerance(cols) x Σ_k |a_k w_k| (both sums are within cols x 2^-24
// of that magnitude of the exact one).
#pragma once
#include <cstdint>
#include <vector>

#include "gpu/chunk_stream.h"
#include "gpu/codec_kernels.h"
#include "gpu/resident_buffer.h"

namespace qb {
struct FormatInfo;
}

namespace qb::gpu {

inline double matmul_tolerance(int64_t cols) { return 2.0 * double(cols) * 0x1p-24; }

bool can_multiply_on(const Device& device, const FormatInfo& format, int64_t cols);

class DeviceMatrix {
public:
    // bytes: format.tensor_bytes(rows, cols). slab_budget: largest buffer (0: the device's limit; tests
    // force several slabs with it). Throws Error when the shaders cannot read the format.
    DeviceMatrix(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* bytes,
                 VkDeviceSize slab_budget = 0);

    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    // c (tokens x rows, row-major) = a (tokens x cols) · Wᵀ. Timing: wall, kernel (GPU timestamps) and
    // the host's copies.
    StreamTiming multiply(const float* a, int64_t tokens, float* c) const;

private:
    struct Slab {
        int64_t first_row, rows;
        ResidentBuffer bytes;
    };

    Device& device_;
    StoredLayout layout_;
    int64_t rows_, cols_;
    uint32_t row_bytes_;
    VkDeviceSize slab_limit_;
    std::vector<Slab> slabs_;
};

}  // namespace qb::gpu
