// Records GPU work into one command buffer, submits it and waits on a fence: copies, fills and
// dispatches, with a full memory barrier between consecutive commands (kernels here stream whole
// buffers, so finer barriers would buy nothing) and one towards host reads at the end. mark() writes a
// timestamp; after wait(), mark_seconds() gives each mark's time since the first (empty where the
// device has no timestamps). Reusable: begin() starts the next batch. Destruction waits for the GPU.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>
#include <vulkan/vulkan.h>

namespace qb::gpu {

class Buffer;
class Device;
class Pipeline;

class Sequence {
public:
    explicit Sequence(Device& device);
    ~Sequence();
    Sequence(const Sequence&) = delete;
    Sequence& operator=(const Sequence&) = delete;

    void begin();
    void copy(const Buffer& from, const Buffer& to, VkDeviceSize bytes, VkDeviceSize from_offset = 0,
              VkDeviceSize to_offset = 0);
    void fill(const Buffer& buffer, uint32_t value);
    // Runs `groups` workgroups (folded into x and y when above the device's per-dimension limit) with
    // buffers bound to bindings 0..n-1 and the push constants (pipeline.spec().push_constant_bytes).
    void dispatch(const Pipeline& pipeline, std::initializer_list<const Buffer*> buffers, const void* push_constants,
                  uint64_t groups);
    void mark();
    void submit();
    void wait();
    bool pending() const { return submitted_; }
    std::vector<double> mark_seconds() const;

private:
    void barrier(VkPipelineStageFlags destination_stages, VkAccessFlags destination_access);
    void before_command();
    VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
    void destroy();

    static constexpr uint32_t kMaxMarks = 32;

    Device& device_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer commands_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    std::vector<VkDescriptorPool> descriptor_pools_;
    size_t current_descriptor_pool_ = 0;
    uint32_t marks_ = 0;
    bool recorded_any_ = false;
    bool submitted_ = false;
    std::vector<double> mark_seconds_;
};

}  // namespace qb::gpu
