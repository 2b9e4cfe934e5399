// The forward pass's weight products (core/infer/linear_executor.h) on a Vulkan device: dequantize-multiply
// (gpu/matmul_kernels.h: gemm.comp for prompts, gemv.comp for a few tokens) reading the weight's stored
// bytes in place, so a quantized model's perplexity runs on the GPU with the same decoded values as on the
// CPU. A weight is uploaded on its first product and stays on the device for the executor's lifetime
// (a whole evaluation: every chunk reuses it) while the uploaded bytes fit the resident budget; past it,
// weights are uploaded for each product and dropped after it (streamed). Either way a weight travels in
// slabs that each fit one storage binding (128 MiB on lavapipe). Rows stored permuted (HF q/k, row_order)
// are multiplied as stored and their outputs put back in canonical order. Declined, so computed on the
// CPU: formats the shaders cannot read in place (stored_layout: per-tensor scales, raw integers) and
// tensors stored transposed (GPT-2 Conv1D).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vulkan/vulkan.h>

#include "core/infer/linear_executor.h"

namespace qb {
class Backend;
}

namespace qb::gpu {

class Device;
class DeviceMatrix;

struct GpuLinearOptions {
    // Stored bytes kept on the device; < 0: half the largest device-local heap, or where device memory is
    // host memory (lavapipe, integrated GPUs), the CPU forward pass's kResidentWeightBudget (256 MiB).
    int64_t resident_budget_bytes = -1;
    VkDeviceSize slab_budget = 0;        // largest weight slab (0: the device's binding limit; tests force slabs)
};

class GpuLinearExecutor : public LinearExecutor {
public:
    explicit GpuLinearExecutor(std::shared_ptr<Device> device, GpuLinearOptions options = {});
    ~GpuLinearExecutor() override;

    std::string description() const override;
    bool multiply(const TensorView& weight, ConstMatrixRef x, MatrixRef y) override;

    // Whether multiply() would run this weight's products here.
    bool accepts(const TensorView& weight) const;
    int64_t resident_bytes() const;   // stored bytes of the weights kept on the device
    int64_t streamed_uploads() const;  // products whose weight was uploaded for them alone
    void release();                    // drops the resident weights
    Device& device() const { return *device_; }

private:
    std::shared_ptr<const DeviceMatrix> resident(const TensorView& weight);

    struct Entry {
        std::shared_ptr<const void> keep_alive;  // the mapping: its address stays this weight's
        std::shared_ptr<const DeviceMatrix> matrix;
    };
    std::shared_ptr<Device> device_;
    GpuLinearOptions options_;
    int64_t budget_ = 0;
    mutable std::mutex mutex_;
    std::map<const uint8_t*, Entry> resident_;  // by the weight's stored bytes
    int64_t resident_bytes_ = 0, streamed_uploads_ = 0;
};

// The executor of a job computing on `backend` (select_backend's choice; one per job, created beside it): a
// GpuLinearExecutor on a VulkanBackend's device (sharing it), nullptr for any other backend (the CPU).
std::unique_ptr<GpuLinearExecutor> linear_executor_for(const Backend& backend, GpuLinearOptions options = {});

}  // namespace qb::gpu
