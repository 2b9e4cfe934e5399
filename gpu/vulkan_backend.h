// The Backend of core/backend/backend.h on a Vulkan device: format kernels (gpu/codec_kernels.h),
// statistics (gpu/stats_kernel.h), GPTQ's block update (gpu/gptq_kernel.h) and calibration's Hessian
// sums (gpu/hessian_kernel.h, where the device has shaderFloat64) run on the GPU; any
// request without a kernel here goes to the CPU backend, so every call succeeds. select_backend() is how
// a job picks its backend by name.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vulkan/vulkan.h>

#include "core/backend/backend.h"
#include "gpu/chunk_stream.h"

namespace qb::gpu {

class Device;

struct VulkanBackendOptions {
    // Largest chunk buffer (two chunks are in flight, each with its input and output); 0: the device's
    // limit (maxStorageBufferRange, 128 MiB on lavapipe). Larger chunks buy nothing once the GPU is busy.
    VkDeviceSize chunk_bytes = VkDeviceSize(64) << 20;
    int cpu_threads = 0;           // for the work handed to the CPU backend
};

class VulkanBackend : public Backend {
public:
    explicit VulkanBackend(std::shared_ptr<Device> device, VulkanBackendOptions options = {});
    ~VulkanBackend() override;

    std::string name() const override { return "vulkan"; }
    std::string description() const override;
    bool accelerates_encode(const FormatInfo& format, bool with_importance) const override;
    bool accelerates_decode(const FormatInfo& format) const override;
    bool accelerates_statistics(int64_t cols) const override;
    bool accelerates_gptq(int64_t rows, int64_t cols, int64_t block) const override;
    bool accelerates_hessian(int64_t dim) const override;
    void encode(const FormatInfo& format, int64_t rows, int64_t cols, const float* src, uint8_t* dst,
                const float* importance, const JobControl* job) override;
    void decode(const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src, float* dst,
                const JobControl* job) override;
    TensorStats statistics(const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                           const JobControl* job) override;
    std::unique_ptr<GptqUpdater> gptq_updater(float* w, int64_t rows, int64_t cols, const float* u) override;
    std::unique_ptr<HessianSums> hessian_sums(int64_t dim, int threads) override;

    Device& device() const { return *device_; }
    const std::shared_ptr<Device>& shared_device() const { return device_; }
    // Where the time of the last call that ran on the GPU went (profiling, benchmarks).
    const StreamTiming& last_timing() const { return last_timing_; }

private:
    std::shared_ptr<Device> device_;
    VulkanBackendOptions options_;
    std::unique_ptr<Backend> cpu_;
    StreamTiming last_timing_;
};

// A backend for a job. preference: "auto" (a Vulkan GPU when there is one, or the device that
// QB_VULKAN_DEVICE names; else the CPU, which beats a software Vulkan device), "vulkan" (any Vulkan
// device, software ones included), or "cpu". notice is empty, or says why a request for
// Vulkan ended on the CPU ("Vulkan unavailable: no Vulkan driver found (...); computing on the CPU").
// Throws Error("backend", ...) for an unknown preference.
struct BackendChoice {
    std::unique_ptr<Backend> backend;
    std::string notice;
};
BackendChoice select_backend(std::string_view preference, const VulkanBackendOptions& options = {});

}  // namespace qb::gpu
