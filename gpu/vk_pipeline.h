// A compute pipeline built from an embedded SPIR-V module (gpu/shaders/<shader>.comp): `bindings`
// storage buffers at bindings 0..n-1 of set 0, a push-constant block of push_constant_bytes, and
// 32-bit specialization constants in constant_id order. By convention constant 0 is the workgroup
// size (layout(local_size_x_id = 0)).
#pragma once
#include <compare>
#include <cstdint>
#include <string>
#include <vector>
#include <vulkan/vulkan.h>

namespace qb::gpu {

struct PipelineSpec {
    std::string shader;
    std::vector<uint32_t> constants;  // constants[0] = workgroup size
    uint32_t bindings = 2;
    uint32_t push_constant_bytes = 4;

    auto operator<=>(const PipelineSpec&) const = default;
};

class Pipeline {
public:
    Pipeline(VkDevice device, VkPipelineCache cache, const PipelineSpec& spec);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    const PipelineSpec& spec() const { return spec_; }
    uint32_t workgroup_size() const { return spec_.constants.at(0); }
    VkPipeline handle() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }

private:
    void build(VkPipelineCache cache);
    void destroy();

    VkDevice device_;
    PipelineSpec spec_;
    VkShaderModule module_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

}  // namespace qb::gpu
