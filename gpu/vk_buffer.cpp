#include "gpu/vk_buffer.h"

#include <utility>

#include "gpu/vk_check.h"
#include "gpu/vk_device.h"

namespace qb::gpu {
namespace {

constexpr VkMemoryPropertyFlags kHostCoherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

struct MemoryNeeds {
    VkMemoryPropertyFlags required;
    VkMemoryPropertyFlags preferred;
};

MemoryNeeds needs_of(MemoryRole role) {
    switch (role) {
        case MemoryRole::Device: return {0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT};
        case MemoryRole::Upload: return {kHostCoherent, 0};
        case MemoryRole::Download: return {kHostCoherent, VK_MEMORY_PROPERTY_HOST_CACHED_BIT};
        case MemoryRole::Shared: return {kHostCoherent, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT};
    }
    return {};
}

}  // namespace

Buffer::Buffer(const Device& device, VkDeviceSize bytes, MemoryRole role)
    : device_(device.handle()), size_(bytes), role_(role) {
    VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = bytes;
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    try {
        check(vkCreateBuffer(device_, &info, nullptr, &buffer_), "vkCreateBuffer");
        VkMemoryRequirements requirements{};
        vkGetBufferMemoryRequirements(device_, buffer_, &requirements);
        const MemoryNeeds needs = needs_of(role);
        VkMemoryAllocateInfo allocation{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        allocation.allocationSize = requirements.size;
        allocation.memoryTypeIndex = device.memory_type(requirements.memoryTypeBits, needs.required, needs.preferred);
        check(vkAllocateMemory(device_, &allocation, nullptr, &memory_), "vkAllocateMemory");
        check(vkBindBufferMemory(device_, buffer_, memory_, 0), "vkBindBufferMemory");
        if (role != MemoryRole::Device) check(vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory");
    } catch (...) {
        release();
        throw;
    }
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept { *this = std::move(other); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        release();
        device_ = std::exchange(other.device_, VK_NULL_HANDLE);
        buffer_ = std::exchange(other.buffer_, VK_NULL_HANDLE);
        memory_ = std::exchange(other.memory_, VK_NULL_HANDLE);
        size_ = std::exchange(other.size_, 0);
        role_ = other.role_;
        mapped_ = std::exchange(other.mapped_, nullptr);
    }
    return *this;
}

void Buffer::release() {
    if (!device_) return;
    vkDestroyBuffer(device_, buffer_, nullptr);  // unmapped implicitly when the memory is freed
    vkFreeMemory(device_, memory_, nullptr);
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
}

}  // namespace qb::gpu
