// GPU encoders and decoders of registry formats (core/quant/format.h). A table says which formats have
// kernels; every kernel handles independent fixed-size blocks (one invocation per block), so a tensor
// streams through the device in chunks of whole blocks whatever its row length, and the bytes equal
// the CPU codec's (both use the formulas of core/formulas/).
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vulkan/vulkan.h>

#include "gpu/chunk_stream.h"

namespace qb {
struct FormatInfo;
}

namespace qb::gpu {

struct CodecKernel {
    std::string_view format;                 // the format's name, or empty for a family:
    bool (*in_family)(const FormatInfo&);  // formats of a parametrised family (integer grids)
    std::string_view encode_shader;
    std::string_view decode_shader;
    // Specialization constants 1..3 of both shaders (0 is the workgroup size).
    std::array<uint32_t, 3> (*constants)(const FormatInfo&);
    uint32_t workgroup = 64;               // invocations per workgroup
    bool encoder_divides = false;          // uses div_exact: needs shaderFloat64
    bool importance_changes_code = false;  // with an importance vector the CPU runs another algorithm
};

const CodecKernel* find_codec_kernel(const FormatInfo& format);

bool can_encode_on(const Device& device, const FormatInfo& format, bool with_importance);
bool can_decode_on(const Device& device, const FormatInfo& format);

// rows x cols f32 -> format bytes, and back. chunk_budget: largest chunk buffer (0: device limit).
// Throws Error when the format has no kernel here or the shape does not fit the format.
StreamTiming encode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const float* src,
                       uint8_t* dst, VkDeviceSize chunk_budget, const JobControl* job);
StreamTiming decode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src,
                       float* dst, VkDeviceSize chunk_budget, const JobControl* job);

}  // namespace qb::gpu
