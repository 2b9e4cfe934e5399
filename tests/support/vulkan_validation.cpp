#include "tests/support/vulkan_validation.h"

namespace qbtest {

std::string open_validated_device(std::shared_ptr<qb::gpu::Device>& device) {
    qb::gpu::DeviceStatus status = qb::gpu::open_default_device({.validation = true});
    if (!status.available()) return status.reason;
    if (!status.device->instance().validation_enabled()) return "the Vulkan validation layer VK_LAYER_KHRONOS_validation is not installed";
    device = std::move(status.device);
    return {};
}

std::string take_validation_messages(const qb::gpu::Device& device) {
    std::string text;
    for (const std::string& m : device.instance().messages()) text += m + "\n";
    device.instance().clear_messages();
    return text;
}

}  // namespace qbtest
