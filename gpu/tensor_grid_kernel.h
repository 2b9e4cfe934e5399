// Integer grids over pieces on the GPU, bytes and floats equal to the CPU codec's: per-tensor grids
// (int<bits>_pt_<sym|asym>[_clip], core/quant/int_grid.cpp), whose one record (scale, zero) covers the whole
// tensor, and grids whose unit (a pc row, a g<N> group) is longer than a piece (core/formulas/int_grid.inc's
// grid_tensor_piece; one invocation per unit would run past llvmpipe's loop limit). Encoding streams the
// tensor's chunks through gpu/shaders/encode_grid_tensor.comp once per stage: the range of every piece,
// then with _clip every candidate's error of every piece, then the codes (and each unit's record); between
// stages the host combines the pieces' results in the CPU's order into the records. Decoding a per-tensor
// grid streams the rows with the record in front, as rows of the per-channel grid of the same bits, through
// the per-channel reader (decode_values); the other grids decode as usual (codec_kernels.h).
#pragma once
#include <cstdint>
#include <vulkan/vulkan.h>

#include "gpu/chunk_stream.h"

namespace qb {
struct FormatInfo;
}

namespace qb::gpu {

bool is_tensor_grid(const FormatInfo& format);
// Per-tensor grids, and grids whose unit in rows of `cols` values is longer than a piece.
bool encodes_grid_by_pieces(const FormatInfo& format, int64_t cols);

StreamTiming encode_grid_by_pieces_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                      const float* src, uint8_t* dst, const float* importance, VkDeviceSize chunk_budget,
                                      const JobControl* job);
StreamTiming decode_tensor_grid_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols,
                                   const uint8_t* src, float* dst, VkDeviceSize chunk_budget, const JobControl* job);

}  // namespace qb::gpu
