#include "gpu/vk_instance.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/util/error.h"
#include "gpu/vk_check.h"

namespace qb::gpu {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool env_is(const char* name, const char* value) {
    const char* set = std::getenv(name);
    return set && std::strcmp(set, value) == 0;
}

bool env_contains(const char* name, const char* part) {
    const char* set = std::getenv(name);
    return set && std::strstr(set, part);
}

bool has_layer(const char* name) {
    uint32_t count = 0;
    vkEnumerateInstanceLayerProperties(&count, nullptr);
    std::vector<VkLayerProperties> layers(count);
    vkEnumerateInstanceLayerProperties(&count, layers.data());
    return std::any_of(layers.begin(), layers.end(), [&](const auto& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_extension(const char* name) {
    uint32_t count = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
    std::vector<VkExtensionProperties> extensions(count);
    vkEnumerateInstanceExtensionProperties(nullptr, &count, extensions.data());
    return std::any_of(extensions.begin(), extensions.end(),
                       [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

std::string creation_problem(VkResult result) {
    if (result == VK_ERROR_INCOMPATIBLE_DRIVER) return "no Vulkan driver found (VK_ERROR_INCOMPATIBLE_DRIVER)";
    if (result == VK_ERROR_LAYER_NOT_PRESENT) return "the Vulkan validation layer is not installed (VK_ERROR_LAYER_NOT_PRESENT)";
    return std::string("cannot create a Vulkan instance (") + result_name(result) + ")";
}

}  // namespace

Instance::Instance(const InstanceOptions& options) {
    uint32_t loader_version = 0;
    if (vkEnumerateInstanceVersion(&loader_version) != VK_SUCCESS || loader_version < VK_API_VERSION_1_2)
        throw Error("vulkan", "the Vulkan loader is older than 1.2");

    std::vector<const char*> layers;
    const bool wants_validation = options.validation || env_is("QB_VULKAN_VALIDATION", "1");
    if (wants_validation && has_layer(kValidationLayer)) layers.push_back(kValidationLayer);
    validation_ = !layers.empty() || (env_contains("VK_INSTANCE_LAYERS", kValidationLayer) && has_layer(kValidationLayer));

    std::vector<const char*> extensions;
    const bool debug_utils = has_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (debug_utils) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    VkInstanceCreateFlags flags = 0;
    if (has_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {  // lists MoltenVK-style devices too
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    VkDebugUtilsMessengerCreateInfoEXT messenger_info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger_info.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                 VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger_info.pfnUserCallback = &Instance::on_message;
    messenger_info.pUserData = this;

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "Quantbench";
    app.pEngineName = "quantbench";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pNext = debug_utils ? &messenger_info : nullptr;  // also catches messages of vkCreateInstance itself
    info.flags = flags;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = uint32_t(layers.size());
    info.ppEnabledLayerNames = layers.data();
    info.enabledExtensionCount = uint32_t(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    if (VkResult result = vkCreateInstance(&info, nullptr, &instance_); result != VK_SUCCESS)
        throw Error("vulkan", creation_problem(result));

    if (debug_utils) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        if (create) create(instance_, &messenger_info, nullptr, &messenger_);
    }
}

Instance::~Instance() {
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance_, messenger_, nullptr);
    }
    vkDestroyInstance(instance_, nullptr);
}

std::vector<VkPhysicalDevice> Instance::physical_devices() const {
    uint32_t count = 0;
    check(vkEnumeratePhysicalDevices(instance_, &count, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> devices(count);
    check(vkEnumeratePhysicalDevices(instance_, &count, devices.data()), "vkEnumeratePhysicalDevices");
    devices.resize(count);
    return devices;
}

std::vector<std::string> Instance::messages() const {
    std::lock_guard lock(messages_mutex_);
    return messages_;
}

void Instance::clear_messages() {
    std::lock_guard lock(messages_mutex_);
    messages_.clear();
}

VkBool32 VKAPI_CALL Instance::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                         VkDebugUtilsMessageTypeFlagsEXT types,
                                         const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
    // General warnings are the loader's notes ("env var VK_INSTANCE_LAYERS defined ..."), not problems.
    const bool general_only = !(types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT));
    if (general_only && severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) return VK_FALSE;
    auto* instance = static_cast<Instance*>(self);
    std::string line = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error: " : "warning: ";
    line += data->pMessage ? data->pMessage : "(no text)";
    std::lock_guard lock(instance->messages_mutex_);
    instance->messages_.push_back(std::move(line));
    return VK_FALSE;
}

}  // namespace qb::gpu
