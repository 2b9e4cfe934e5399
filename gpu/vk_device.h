// Vulkan devices: what each one offers (DeviceInfo, shown by `quantbench-cli devices`), which one
// Quantbench uses, and the logical Device that owns the compute queue and the pipeline cache.
// Choice: QB_VULKAN_DEVICE=<index or name substring> forces one; otherwise the first usable device
// by type, discrete > integrated > virtual > cpu (lavapipe). A usable device has Vulkan 1.2, a compute
// queue and 8/16-bit storage buffers; kernels that need more (float64, subgroup arithmetic) ask
// DeviceInfo and leave the work to the CPU where it is missing.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>
#include <vulkan/vulkan.h>

#include "gpu/vk_instance.h"
#include "gpu/vk_pipeline.h"

namespace qb::gpu {

enum class DeviceType { Discrete, Integrated, Virtual, Cpu, Other };
std::string_view device_type_name(DeviceType type);  // "discrete", "integrated", "virtual", "cpu", "other"

struct MemoryHeap {
    uint64_t bytes = 0;
    bool device_local = false;
};

struct DeviceInfo {
    VkPhysicalDevice handle = VK_NULL_HANDLE;
    uint32_t index = 0;
    std::string name;
    DeviceType type = DeviceType::Other;
    std::string driver_name;  // "llvmpipe", "NVIDIA"
    std::string driver_info;  // "Mesa 22.3.6 (LLVM 15.0.6)", "550.54.15"
    uint32_t api_version = 0;
    uint32_t vendor_id = 0;
    uint32_t device_id = 0;
    std::vector<MemoryHeap> heaps;
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_allocation_bytes = 0;
    uint32_t max_workgroup_count[3] = {};
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_shared_memory_bytes = 0;
    uint32_t subgroup_size = 0;
    bool subgroup_arithmetic = false;  // subgroupAdd/Min/Max in compute shaders
    bool float16_arithmetic = false;
    bool int8_arithmetic = false;
    bool storage_8bit = false;
    bool storage_16bit = false;
    bool float64 = false;
    bool timestamps = false;
    float timestamp_period_ns = 0;
    int compute_queue_family = -1;

    // Empty when Quantbench can use the device, else why not ("no 8-bit storage buffers").
    std::string unusable_reason() const;
    std::string api_version_text() const;  // "1.3.230"
};

std::vector<DeviceInfo> describe_devices(const Instance& instance);

// Index into `devices` of the device to use. `forced` (QB_VULKAN_DEVICE's value, may be empty) is an
// index or a case-insensitive name substring. Throws Error("vulkan", reason) when none fits.
size_t choose_device(const std::vector<DeviceInfo>& devices, std::string_view forced);

class Device {
public:
    Device(std::shared_ptr<Instance> instance, DeviceInfo info);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const DeviceInfo& info() const { return info_; }
    Instance& instance() const { return *instance_; }
    VkDevice handle() const { return device_; }
    // Host-visible memory is device memory (lavapipe, integrated GPUs): no staging copies needed.
    // QB_VULKAN_STAGING=1 stages anyway, so the discrete-GPU path can be tested on any device.
    bool unified_memory() const { return unified_memory_; }

    // The pipeline for spec, built on first use and cached for the device's lifetime.
    const Pipeline& pipeline(const PipelineSpec& spec);
    // First memory type allowed by type_bits with all `required` flags, preferring those with `preferred`.
    uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;
    void submit(VkCommandBuffer commands, VkFence fence);
    uint32_t queue_family() const { return uint32_t(info_.compute_queue_family); }

private:
    std::shared_ptr<Instance> instance_;
    DeviceInfo info_;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
    VkPhysicalDeviceMemoryProperties memory_{};
    bool unified_memory_ = false;
    std::mutex queue_mutex_;
    std::mutex pipelines_mutex_;
    std::map<PipelineSpec, std::unique_ptr<Pipeline>> pipelines_;
};

// The device Quantbench computes on, or the reason there is none ("no Vulkan driver found
// (VK_ERROR_INCOMPATIBLE_DRIVER)"), which callers report as a notice before using the CPU.
struct DeviceStatus {
    std::shared_ptr<Device> device;
    std::string reason;
    bool available() const { return device != nullptr; }
};
DeviceStatus open_default_device(const InstanceOptions& options = {});

}  // namespace qb::gpu
