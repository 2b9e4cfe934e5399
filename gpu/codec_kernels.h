// GPU encoders and decoders of registry formats (core/quant/format.h), whose bytes and floats equal the
// CPU codecs' (both use the formulas of core/formulas/). Kernels handle independent units: fixed-size
// blocks, or the rows of per-channel grids. Encoders take one invocation per unit (K-quants one per
// sub-block); decoders up to 8 consecutive values per invocation, reading them in place through
// common/dequant.glsl (the StoredLayout below), which the matrix products use as well. A tensor streams through the device in chunks of whole units. Per-tensor grids
// (one record for the whole tensor; shaders cannot read them in place) and the encoding of grids with units
// longer than 1024 values go to gpu/tensor_grid_kernel.h.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>
#include <vulkan/vulkan.h>

#include "gpu/chunk_stream.h"

namespace qb {
struct FormatInfo;
}

namespace qb::gpu {

// How the shaders read a format in place: values in units of unit_values values and unit_bytes bytes,
// the reader `format` of common/dequant.glsl (and an integer grid's parameters).
struct StoredLayout {
    uint32_t format = 0;
    uint32_t unit_values = 1;
    uint32_t unit_bytes = 4;
    uint32_t grid_bits = 0;
    bool grid_asymmetric = false;

    // Specialization constants 0-5 of a shader including common/dequant.glsl.
    std::vector<uint32_t> constants(uint32_t workgroup) const;
};

// Rows of `cols` values of format f as the shaders read them; nullopt for formats they cannot read
// (whole-tensor scales, raw integers) or a row length the format cannot store.
std::optional<StoredLayout> stored_layout(const FormatInfo& format, int64_t cols);

class Pipeline;

// decode_values.comp for units of `layout`: `run` consecutive values per invocation (8 where the unit
// length allows, else 1).
struct ValueDecoder {
    const Pipeline& pipeline;
    uint32_t run;
    // Records the decoding of `values` values (whole units) from `in` to `out`.
    void record(Sequence& sequence, const Buffer& in, const Buffer& out, uint64_t values) const;
};
ValueDecoder value_decoder(Device& device, const StoredLayout& layout);

bool can_encode_on(const Device& device, const FormatInfo& format, bool with_importance);
bool can_decode_on(const Device& device, const FormatInfo& format);

// rows x cols f32 -> format bytes, and back. importance: per-column weights or nullptr. chunk_budget:
// largest chunk buffer (0: device limit). Throws Error when the format has no kernel here or the shape
// does not fit the format.
StreamTiming encode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const float* src,
                       uint8_t* dst, const float* importance, VkDeviceSize chunk_budget, const JobControl* job);
StreamTiming decode_on(Device& device, const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src,
                       float* dst, VkDeviceSize chunk_budget, const JobControl* job);

}  // namespace qb::gpu
