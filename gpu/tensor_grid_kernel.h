// Per-tensor integer grids (int<bits>_pt_<sym|asym>[_clip], core/quant/int_grid.cpp) on the GPU, bytes and
// floats equal to the CPU codec's. One record (scale, zero) covers the whole tensor, so encoding streams the
// tensor's chunks through gpu/shaders/encode_grid_tensor.comp once per stage: the range of every piece of
// a row (core/formulas/int_grid.inc), then with _clip every candidate's error of every piece, then the
// codes; between stages the host combines the pieces' results in the CPU's order into the record. Decoding
// streams the rows with the record in front, as rows of the per-channel grid of the same bits, through the
// per-channel reader (decode_values).
#pragma once
#include <cstdint>
#include <vulkan/vulkan.h>

#include "gpu/chunk_stream.h"

namespace qb {
struct FormatInfo;
}

namespace qb::gpu {

bool is_tensor_grid(const FormatInfo& format);

StreamTiming encode_tensor_grid_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                   const float* src, uint8_t* dst, const float* importance, VkDeviceSize chunk_budget,
                                   const JobControl* job);
StreamTiming decode_tensor_grid_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                   const uint8_t* src, float* dst, VkDeviceSize chunk_budget, const JobControl* job);

}  // namespace qb::gpu
