// Tensor statistics on the GPU (gpu/shaders/statistics.comp): the result of core/backend/tensor_stats.h
// in one pass over the values, streamed in chunks of whole rows.
#pragma once
#include <cstdint>
#include <vulkan/vulkan.h>

#include "core/backend/tensor_stats.h"
#include "gpu/chunk_stream.h"

namespace qb::gpu {

// False when the device lacks subgroup arithmetic (or has subgroups under 8 lanes) or one row of
// `cols` values does not fit in a storage buffer; the caller then computes on the CPU.
bool can_compute_statistics_on(const Device& device, int64_t cols);

StreamTiming statistics_on(Device& device, const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                           VkDeviceSize chunk_budget, const JobControl* job, TensorStats& result);

}  // namespace qb::gpu
