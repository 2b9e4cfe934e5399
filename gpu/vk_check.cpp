#include "gpu/vk_check.h"

#include <string>

#include "core/util/error.h"

namespace qb::gpu {

const char* result_name(VkResult result) {
    switch (result) {
#define QB_RESULT(name) \
    case name: return #name;
        QB_RESULT(VK_SUCCESS)
        QB_RESULT(VK_NOT_READY)
        QB_RESULT(VK_TIMEOUT)
        QB_RESULT(VK_INCOMPLETE)
        QB_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        QB_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        QB_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        QB_RESULT(VK_ERROR_DEVICE_LOST)
        QB_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
        QB_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        QB_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        QB_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        QB_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        QB_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        QB_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
        QB_RESULT(VK_ERROR_FRAGMENTED_POOL)
        QB_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
        QB_RESULT(VK_ERROR_INVALID_SHADER_NV)
        QB_RESULT(VK_ERROR_UNKNOWN)
#undef QB_RESULT
        default: return "VK_ERROR (unnamed)";
    }
}

void check(VkResult result, const char* call) {
    if (result != VK_SUCCESS) throw Error("vulkan", std::string(call) + " failed: " + result_name(result));
}

}  // namespace qb::gpu
