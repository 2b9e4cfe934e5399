// A Vulkan instance. It enables VK_LAYER_KHRONOS_validation when asked (options, or
// QB_VULKAN_VALIDATION=1; the loader also enables it itself for VK_INSTANCE_LAYERS) and installs a debug
// messenger that collects validation and performance warnings and all errors, so tests can fail on them.
// Construction throws qb::Error("vulkan", ...) with a reason a user can act on, e.g.
// "no Vulkan driver found (VK_ERROR_INCOMPATIBLE_DRIVER)".
#pragma once
#include <mutex>
#include <string>
#include <vector>
#include <vulkan/vulkan.h>

namespace qb::gpu {

struct InstanceOptions {
    bool validation = false;
};

class Instance {
public:
    explicit Instance(const InstanceOptions& options = {});
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    bool validation_enabled() const { return validation_; }
    std::vector<VkPhysicalDevice> physical_devices() const;

    // Warning and error messages reported since creation (or the last clear), one line each.
    std::vector<std::string> messages() const;
    void clear_messages();

private:
    static VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT types,
                                          const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    bool validation_ = false;
    mutable std::mutex messages_mutex_;
    std::vector<std::string> messages_;
};

}  // namespace qb::gpu
