// Vulkan result checking: a failing call becomes qb::Error("vulkan", "<call> failed: VK_ERROR_...").
#pragma once
#include <vulkan/vulkan.h>

namespace qb::gpu {

const char* result_name(VkResult result);  // "VK_ERROR_OUT_OF_DEVICE_MEMORY"
void check(VkResult result, const char* call);

}  // namespace qb::gpu
