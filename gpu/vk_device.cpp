#include "gpu/vk_device.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "core/util/error.h"
#include "gpu/vk_check.h"

namespace qb::gpu {
namespace {

DeviceType type_of(VkPhysicalDeviceType type) {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceType::Discrete;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return DeviceType::Integrated;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceType::Virtual;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return DeviceType::Cpu;
        default: return DeviceType::Other;
    }
}

int compute_queue_family(VkPhysicalDevice device, bool& timestamps) {
    uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
    for (uint32_t i = 0; i < count; ++i) {
        if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        timestamps = families[i].timestampValidBits > 0;
        return int(i);
    }
    return -1;
}

DeviceInfo describe(VkPhysicalDevice handle, uint32_t index) {
    DeviceInfo info;
    info.handle = handle;
    info.index = index;

    VkPhysicalDeviceProperties basic{};
    vkGetPhysicalDeviceProperties(handle, &basic);
    info.api_version = basic.apiVersion;
    if (basic.apiVersion >= VK_API_VERSION_1_2) {
        VkPhysicalDeviceVulkan12Properties v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES};
        VkPhysicalDeviceVulkan11Properties v11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES, &v12};
        VkPhysicalDeviceProperties2 properties{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &v11};
        vkGetPhysicalDeviceProperties2(handle, &properties);
        info.driver_name = v12.driverName;
        info.driver_info = v12.driverInfo;
        info.subgroup_size = v11.subgroupSize;
        info.subgroup_arithmetic = (v11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                   (v11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
        info.max_allocation_bytes = v11.maxMemoryAllocationSize;

        VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
        VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
        VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
        vkGetPhysicalDeviceFeatures2(handle, &features);
        info.float16_arithmetic = f12.shaderFloat16;
        info.int8_arithmetic = f12.shaderInt8;
        info.storage_8bit = f12.storageBuffer8BitAccess;
        info.storage_16bit = f11.storageBuffer16BitAccess;
        info.float64 = features.features.shaderFloat64;
    }
    info.name = basic.deviceName;
    info.type = type_of(basic.deviceType);
    info.vendor_id = basic.vendorID;
    info.device_id = basic.deviceID;
    info.max_storage_buffer_range = basic.limits.maxStorageBufferRange;
    std::copy_n(basic.limits.maxComputeWorkGroupCount, 3, info.max_workgroup_count);
    info.max_workgroup_invocations = basic.limits.maxComputeWorkGroupInvocations;
    info.max_shared_memory_bytes = basic.limits.maxComputeSharedMemorySize;
    info.timestamp_period_ns = basic.limits.timestampPeriod;
    info.compute_queue_family = compute_queue_family(handle, info.timestamps);
    info.timestamps = info.timestamps && basic.limits.timestampComputeAndGraphics;

    VkPhysicalDeviceMemoryProperties memory{};
    vkGetPhysicalDeviceMemoryProperties(handle, &memory);
    for (uint32_t i = 0; i < memory.memoryHeapCount; ++i)
        info.heaps.push_back({memory.memoryHeaps[i].size, bool(memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)});
    return info;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

std::string device_list(const std::vector<DeviceInfo>& devices) {
    std::string list;
    for (const DeviceInfo& d : devices) list += (list.empty() ? "" : ", ") + std::to_string(d.index) + " '" + d.name + "'";
    return list;
}

size_t forced_device(const std::vector<DeviceInfo>& devices, std::string_view forced) {
    const bool is_index = std::all_of(forced.begin(), forced.end(), [](unsigned char c) { return std::isdigit(c); });
    for (size_t i = 0; i < devices.size(); ++i) {
        const bool match = is_index ? std::to_string(i) == forced : lower(devices[i].name).find(lower(forced)) != std::string::npos;
        if (!match) continue;
        if (auto why = devices[i].unusable_reason(); !why.empty())
            throw Error("vulkan", "QB_VULKAN_DEVICE=" + std::string(forced) + " selects '" + devices[i].name + "', which " + why);
        return i;
    }
    throw Error("vulkan", "QB_VULKAN_DEVICE=" + std::string(forced) + " matches none of the devices: " + device_list(devices));
}

}  // namespace

std::string_view device_type_name(DeviceType type) {
    static constexpr std::string_view names[] = {"discrete", "integrated", "virtual", "cpu", "other"};
    return names[size_t(type)];
}

std::string DeviceInfo::unusable_reason() const {
    if (api_version < VK_API_VERSION_1_2) return "supports only Vulkan " + api_version_text() + " (1.2 needed)";
    if (compute_queue_family < 0) return "has no compute queue";
    if (!storage_8bit) return "has no 8-bit storage buffers";
    if (!storage_16bit) return "has no 16-bit storage buffers";
    return {};
}

std::string DeviceInfo::api_version_text() const {
    return std::to_string(VK_API_VERSION_MAJOR(api_version)) + "." + std::to_string(VK_API_VERSION_MINOR(api_version)) +
           "." + std::to_string(VK_API_VERSION_PATCH(api_version));
}

std::vector<DeviceInfo> describe_devices(const Instance& instance) {
    std::vector<DeviceInfo> devices;
    for (VkPhysicalDevice handle : instance.physical_devices()) devices.push_back(describe(handle, uint32_t(devices.size())));
    return devices;
}

size_t choose_device(const std::vector<DeviceInfo>& devices, std::string_view forced) {
    if (devices.empty()) throw Error("vulkan", "the Vulkan driver reports no device");
    if (!forced.empty()) return forced_device(devices, forced);
    size_t best = devices.size();
    for (size_t i = 0; i < devices.size(); ++i)
        if (devices[i].unusable_reason().empty() && (best == devices.size() || devices[i].type < devices[best].type)) best = i;
    if (best == devices.size())
        throw Error("vulkan", "no usable Vulkan device: '" + devices[0].name + "' " + devices[0].unusable_reason());
    return best;
}

Device::Device(std::shared_ptr<Instance> instance, DeviceInfo info) : instance_(std::move(instance)), info_(std::move(info)) {
    if (auto why = info_.unusable_reason(); !why.empty()) throw Error("vulkan", "'" + info_.name + "' " + why);
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue_info.queueFamilyIndex = queue_family();
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;

    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f12.storageBuffer8BitAccess = VK_TRUE;
    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
    f11.storageBuffer16BitAccess = VK_TRUE;
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
    features.features.shaderFloat64 = info_.float64;

    VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features};
    device_info.queueCreateInfoCount = 1;
    device_info.pQueueCreateInfos = &queue_info;
    check(vkCreateDevice(info_.handle, &device_info, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, queue_family(), 0, &queue_);

    VkPipelineCacheCreateInfo cache_info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    if (VkResult result = vkCreatePipelineCache(device_, &cache_info, nullptr, &pipeline_cache_); result != VK_SUCCESS) {
        vkDestroyDevice(device_, nullptr);
        check(result, "vkCreatePipelineCache");
    }

    vkGetPhysicalDeviceMemoryProperties(info_.handle, &memory_);
    const VkMemoryPropertyFlags unified =
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    // A discrete GPU's host-visible device memory (resizable BAR) is slow to read from the host: stage.
    const bool shared_memory_type = std::any_of(memory_.memoryTypes, memory_.memoryTypes + memory_.memoryTypeCount,
                                                [&](const VkMemoryType& t) { return (t.propertyFlags & unified) == unified; });
    const char* staging = std::getenv("QB_VULKAN_STAGING");
    unified_memory_ = shared_memory_type && info_.type != DeviceType::Discrete && !(staging && std::strcmp(staging, "1") == 0);
}

Device::~Device() {
    vkDeviceWaitIdle(device_);
    pipelines_.clear();
    vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
    vkDestroyDevice(device_, nullptr);
}

const Pipeline& Device::pipeline(const PipelineSpec& spec) {
    std::lock_guard lock(pipelines_mutex_);
    auto& slot = pipelines_[spec];
    if (!slot) slot = std::make_unique<Pipeline>(device_, pipeline_cache_, spec);
    return *slot;
}

uint32_t Device::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
    int fallback = -1;
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
        const VkMemoryPropertyFlags flags = memory_.memoryTypes[i].propertyFlags;
        if (!(type_bits & (1u << i)) || (flags & required) != required) continue;
        if ((flags & preferred) == preferred) return i;
        if (fallback < 0) fallback = int(i);
    }
    if (fallback < 0) throw Error("vulkan", "'" + info_.name + "' has no memory type for a storage buffer with the needed properties");
    return uint32_t(fallback);
}

void Device::submit(VkCommandBuffer commands, VkFence fence) {
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &commands;
    std::lock_guard lock(queue_mutex_);
    check(vkQueueSubmit(queue_, 1, &submit, fence), "vkQueueSubmit");
}

DeviceStatus open_default_device(const InstanceOptions& options) {
    try {
        auto instance = std::make_shared<Instance>(options);
        std::vector<DeviceInfo> devices = describe_devices(*instance);
        const char* forced = std::getenv("QB_VULKAN_DEVICE");
        const size_t chosen = choose_device(devices, forced ? forced : "");
        return {std::make_shared<Device>(std::move(instance), std::move(devices[chosen])), {}};
    } catch (const Error& e) {
        return {nullptr, e.problem()};
    }
}

}  // namespace qb::gpu
