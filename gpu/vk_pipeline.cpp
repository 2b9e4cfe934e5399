#include "gpu/vk_pipeline.h"

#include "gpu/shader_library.h"
#include "gpu/vk_check.h"

namespace qb::gpu {

Pipeline::Pipeline(VkDevice device, VkPipelineCache cache, const PipelineSpec& spec) : device_(device), spec_(spec) {
    try {
        build(cache);
    } catch (...) {
        destroy();
        throw;
    }
}

void Pipeline::build(VkPipelineCache cache) {
    const PipelineSpec& spec = spec_;
    const std::span<const uint32_t> code = shader_code(spec.shader);
    VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    module_info.codeSize = code.size_bytes();
    module_info.pCode = code.data();
    check(vkCreateShaderModule(device_, &module_info, nullptr, &module_), "vkCreateShaderModule");

    std::vector<VkDescriptorSetLayoutBinding> bindings(spec.bindings);
    for (uint32_t i = 0; i < spec.bindings; ++i)
        bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    set_info.bindingCount = spec.bindings;
    set_info.pBindings = bindings.data();
    check(vkCreateDescriptorSetLayout(device_, &set_info, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");

    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, spec.push_constant_bytes};
    VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    layout_info.setLayoutCount = 1;
    layout_info.pSetLayouts = &set_layout_;
    layout_info.pushConstantRangeCount = spec.push_constant_bytes ? 1 : 0;
    layout_info.pPushConstantRanges = &push;
    check(vkCreatePipelineLayout(device_, &layout_info, nullptr, &layout_), "vkCreatePipelineLayout");

    std::vector<VkSpecializationMapEntry> entries(spec.constants.size());
    for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, uint32_t(i * sizeof(uint32_t)), sizeof(uint32_t)};
    VkSpecializationInfo specialization{uint32_t(entries.size()), entries.data(),
                                        spec.constants.size() * sizeof(uint32_t), spec.constants.data()};
    VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = module_;
    info.stage.pName = "main";
    info.stage.pSpecializationInfo = &specialization;
    info.layout = layout_;
    check(vkCreateComputePipelines(device_, cache, 1, &info, nullptr, &pipeline_), "vkCreateComputePipelines");
}

Pipeline::~Pipeline() { destroy(); }

void Pipeline::destroy() {
    vkDestroyPipeline(device_, pipeline_, nullptr);
    vkDestroyPipelineLayout(device_, layout_, nullptr);
    vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
    vkDestroyShaderModule(device_, module_, nullptr);
}

}  // namespace qb::gpu
