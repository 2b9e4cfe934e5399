#include "gpu/vk_sequence.h"

#include <algorithm>

#include "core/util/error.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_check.h"
#include "gpu/vk_device.h"

namespace qb::gpu {
namespace {

constexpr uint32_t kSetsPerPool = 64;
constexpr uint32_t kBuffersPerPool = 8 * kSetsPerPool;
constexpr VkPipelineStageFlags kWorkStages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
constexpr VkAccessFlags kWorkAccess = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                      VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

VkDescriptorPool make_descriptor_pool(VkDevice device) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kBuffersPerPool};
    VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    info.maxSets = kSetsPerPool;
    info.poolSizeCount = 1;
    info.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    check(vkCreateDescriptorPool(device, &info, nullptr, &pool), "vkCreateDescriptorPool");
    return pool;
}

}  // namespace

Sequence::Sequence(Device& device) : device_(device) {
    const VkDevice vk = device.handle();
    try {
        VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pool_info.queueFamilyIndex = device.queue_family();
        check(vkCreateCommandPool(vk, &pool_info, nullptr, &pool_), "vkCreateCommandPool");
        VkCommandBufferAllocateInfo buffer_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        buffer_info.commandPool = pool_;
        buffer_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        buffer_info.commandBufferCount = 1;
        check(vkAllocateCommandBuffers(vk, &buffer_info, &commands_), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        check(vkCreateFence(vk, &fence_info, nullptr, &fence_), "vkCreateFence");
        if (device.info().timestamps) {
            VkQueryPoolCreateInfo query_info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
            query_info.queryType = VK_QUERY_TYPE_TIMESTAMP;
            query_info.queryCount = kMaxMarks;
            check(vkCreateQueryPool(vk, &query_info, nullptr, &queries_), "vkCreateQueryPool");
        }
        descriptor_pools_.push_back(make_descriptor_pool(vk));
    } catch (...) {
        destroy();
        throw;
    }
}

Sequence::~Sequence() {
    if (submitted_) vkWaitForFences(device_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX);
    destroy();
}

void Sequence::destroy() {
    const VkDevice vk = device_.handle();
    for (VkDescriptorPool pool : descriptor_pools_) vkDestroyDescriptorPool(vk, pool, nullptr);
    vkDestroyQueryPool(vk, queries_, nullptr);
    vkDestroyFence(vk, fence_, nullptr);
    vkDestroyCommandPool(vk, pool_, nullptr);  // frees the command buffer
}

void Sequence::begin() {
    if (submitted_) throw Error("vulkan", "Sequence::begin() while the previous batch is still running");
    const VkDevice vk = device_.handle();
    for (VkDescriptorPool pool : descriptor_pools_) check(vkResetDescriptorPool(vk, pool, 0), "vkResetDescriptorPool");
    current_descriptor_pool_ = 0;
    check(vkResetCommandBuffer(commands_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(commands_, &info), "vkBeginCommandBuffer");
    if (queries_) vkCmdResetQueryPool(commands_, queries_, 0, kMaxMarks);
    marks_ = 0;
    recorded_any_ = false;
    mark_seconds_.clear();
}

void Sequence::barrier(VkPipelineStageFlags destination_stages, VkAccessFlags destination_access) {
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = destination_access;
    vkCmdPipelineBarrier(commands_, kWorkStages, destination_stages, 0, 1, &barrier, 0, nullptr, 0, nullptr);
}

void Sequence::before_command() {
    if (recorded_any_) barrier(kWorkStages, kWorkAccess);
    recorded_any_ = true;
}

void Sequence::copy(const Buffer& from, const Buffer& to, VkDeviceSize bytes, VkDeviceSize from_offset,
                    VkDeviceSize to_offset) {
    before_command();
    VkBufferCopy region{from_offset, to_offset, bytes};
    vkCmdCopyBuffer(commands_, from.handle(), to.handle(), 1, &region);
}

void Sequence::fill(const Buffer& buffer, uint32_t value) {
    before_command();
    vkCmdFillBuffer(commands_, buffer.handle(), 0, VK_WHOLE_SIZE, value);
}

VkDescriptorSet Sequence::allocate_set(VkDescriptorSetLayout layout) {
    VkDescriptorSetAllocateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    info.descriptorSetCount = 1;
    info.pSetLayouts = &layout;
    for (;; ++current_descriptor_pool_) {
        if (current_descriptor_pool_ == descriptor_pools_.size())
            descriptor_pools_.push_back(make_descriptor_pool(device_.handle()));
        info.descriptorPool = descriptor_pools_[current_descriptor_pool_];
        VkDescriptorSet set = VK_NULL_HANDLE;
        const VkResult result = vkAllocateDescriptorSets(device_.handle(), &info, &set);
        if (result == VK_SUCCESS) return set;
        if (result != VK_ERROR_OUT_OF_POOL_MEMORY && result != VK_ERROR_FRAGMENTED_POOL)
            check(result, "vkAllocateDescriptorSets");
    }
}

void Sequence::dispatch(const Pipeline& pipeline, std::initializer_list<const Buffer*> buffers, const void* push_constants,
                        uint64_t groups) {
    if (buffers.size() != pipeline.spec().bindings)
        throw Error("shader " + pipeline.spec().shader, "dispatch binds the wrong number of buffers");
    const uint32_t* limit = device_.info().max_workgroup_count;
    const uint64_t x = std::min<uint64_t>(groups, limit[0]);
    const uint64_t y = x ? (groups + x - 1) / x : 0;
    if (y > limit[1]) throw Error("shader " + pipeline.spec().shader, "dispatch of " + std::to_string(groups) + " workgroups exceeds the device's grid");
    if (groups == 0) return;
    before_command();

    const VkDescriptorSet set = allocate_set(pipeline.set_layout());
    std::vector<VkDescriptorBufferInfo> infos;
    std::vector<VkWriteDescriptorSet> writes;
    infos.reserve(buffers.size());
    for (const Buffer* buffer : buffers) infos.push_back({buffer->handle(), 0, VK_WHOLE_SIZE});
    for (uint32_t i = 0; i < infos.size(); ++i) {
        VkWriteDescriptorSet write{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        write.dstSet = set;
        write.dstBinding = i;
        write.descriptorCount = 1;
        write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        write.pBufferInfo = &infos[i];
        writes.push_back(write);
    }
    vkUpdateDescriptorSets(device_.handle(), uint32_t(writes.size()), writes.data(), 0, nullptr);

    vkCmdBindPipeline(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
    vkCmdBindDescriptorSets(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 0, 1, &set, 0, nullptr);
    if (const uint32_t bytes = pipeline.spec().push_constant_bytes)
        vkCmdPushConstants(commands_, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, bytes, push_constants);
    vkCmdDispatch(commands_, uint32_t(x), uint32_t(y), 1);
}

void Sequence::mark() {
    if (!queries_ || marks_ == kMaxMarks) return;
    vkCmdWriteTimestamp(commands_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, marks_++);
}

void Sequence::submit() {
    barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    check(vkEndCommandBuffer(commands_), "vkEndCommandBuffer");
    check(vkResetFences(device_.handle(), 1, &fence_), "vkResetFences");
    device_.submit(commands_, fence_);
    submitted_ = true;
}

void Sequence::wait() {
    if (!submitted_) return;
    const VkResult result = vkWaitForFences(device_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX);
    submitted_ = false;
    check(result, "vkWaitForFences");
    if (marks_ == 0) return;
    std::vector<uint64_t> ticks(marks_);
    check(vkGetQueryPoolResults(device_.handle(), queries_, 0, marks_, ticks.size() * sizeof(uint64_t), ticks.data(),
                                sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
    const double seconds_per_tick = double(device_.info().timestamp_period_ns) * 1e-9;
    for (uint64_t t : ticks) mark_seconds_.push_back(double(t - ticks[0]) * seconds_per_tick);
}

std::vector<double> Sequence::mark_seconds() const { return mark_seconds_; }

}  // namespace qb::gpu
