// A storage buffer with its own memory allocation (tensors travel in a few large chunk buffers, so one
// allocation each is fine). Roles:
//   Device   - device-local, for shaders only
//   Upload   - host-visible and coherent: the host writes, a copy moves it to a Device buffer
//   Download - host-visible, coherent, preferably cached: a copy from a Device buffer, the host reads
//   Shared   - used by shaders and mapped by the host at once (unified-memory devices: no copies)
#pragma once
#include <cstddef>
#include <span>
#include <vulkan/vulkan.h>

namespace qb::gpu {

class Device;

enum class MemoryRole { Device, Upload, Download, Shared };

class Buffer {
public:
    Buffer(const Device& device, VkDeviceSize bytes, MemoryRole role);
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;

    VkBuffer handle() const { return buffer_; }
    VkDeviceSize size() const { return size_; }
    MemoryRole role() const { return role_; }
    std::span<std::byte> mapped() const { return {static_cast<std::byte*>(mapped_), mapped_ ? size_t(size_) : 0}; }

private:
    void release();

    VkDevice device_ = VK_NULL_HANDLE;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    VkDeviceSize size_ = 0;
    MemoryRole role_ = MemoryRole::Device;
    void* mapped_ = nullptr;
};

}  // namespace qb::gpu
