// GPTQ's lazy batch update on a Vulkan device (gptq_update.comp), the GptqUpdater of core/backend/backend.h:
// W lives on the device (slabs of whole rows, each within one storage binding) for the whole sweep; per
// block the host uploads the block's errors and its rows of U, the device updates the next block's
// columns first and hands them back, then updates the rest while the host quantizes that next block.
// Accuracy: the shader repeats the CPU's order of operations (see there), so results are bit-identical
// where the device fuses fma(); a device that rounds the product first (lavapipe) puts each element within
// gptq_update_tolerance(block) x Σ_t |e_t u_t| of the CPU's value, per update.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/backend/backend.h"
#include "gpu/chunk_stream.h"
#include "gpu/resident_buffer.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {

inline double gptq_update_tolerance(int64_t block) { return 2.0 * double(block) * 0x1p-24; }

// Whether a rows x cols layer swept in blocks of `block` columns fits the device's buffers
// (slab_budget: largest buffer, 0: the device's limit).
bool can_update_gptq_on(const Device& device, int64_t rows, int64_t cols, int64_t block, VkDeviceSize slab_budget = 0);

class DeviceGptqUpdater : public GptqUpdater {
public:
    // Uploads w (rows x cols). slab_budget as above (tests force several slabs with it). Throws Error when
    // the device cannot.
    DeviceGptqUpdater(Device& device, float* w, int64_t rows, int64_t cols, const float* u,
                      VkDeviceSize slab_budget = 0);
    ~DeviceGptqUpdater() override;

    void update(const float* err, int64_t i1, int64_t i2, int64_t ready_end) override;
    // Kernel time (GPU timestamps) and host copies so far; wall time of update() calls.
    const StreamTiming& timing() const { return timing_; }

private:
    struct Slab {
        int64_t first_row, rows;
        ResidentBuffer values;
    };
    void dispatch_all(Sequence& s, int64_t col_begin, int64_t col_end, int64_t i2, int64_t depth, bool panel);
    void ensure(std::optional<ResidentBuffer>& buffer, size_t& capacity, size_t bytes);
    void finish_pending();

    Device& device_;
    float* w_;
    int64_t rows_, cols_;
    const float* u_;
    std::vector<Slab> slabs_;
    std::optional<ResidentBuffer> errors_, factor_, panel_;
    size_t errors_bytes_ = 0, factor_bytes_ = 0, panel_bytes_ = 0;
    std::vector<float> staging_;
    Sequence head_, tail_;  // the next block's columns; the rest, left running
    StreamTiming timing_;
};

}  // namespace qb::gpu
