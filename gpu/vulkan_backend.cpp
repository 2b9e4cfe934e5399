#include "gpu/vulkan_backend.h"

#include <cstdlib>

#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/codec_kernels.h"
#include "gpu/gptq_kernel.h"
#include "gpu/hessian_kernel.h"
#include "gpu/stats_kernel.h"
#include "gpu/vk_device.h"

namespace qb::gpu {

VulkanBackend::VulkanBackend(std::shared_ptr<Device> device, VulkanBackendOptions options)
    : device_(std::move(device)), options_(options), cpu_(make_cpu_backend(options.cpu_threads)) {}

VulkanBackend::~VulkanBackend() = default;

std::string VulkanBackend::description() const {
    const DeviceInfo& info = device_->info();
    return "Vulkan: " + info.name + " (" + std::string(device_type_name(info.type)) + ", " + info.driver_name + " " +
           info.driver_info + ")";
}

bool VulkanBackend::accelerates_encode(const FormatInfo& format, bool with_importance) const {
    return can_encode_on(*device_, format, with_importance);
}

bool VulkanBackend::accelerates_decode(const FormatInfo& format) const { return can_decode_on(*device_, format); }

void VulkanBackend::encode(const FormatInfo& format, int64_t rows, int64_t cols, const float* src, uint8_t* dst,
                           const float* importance, const JobControl* job) {
    if (!accelerates_encode(format, importance != nullptr)) return cpu_->encode(format, rows, cols, src, dst, importance, job);
    last_timing_ = encode_on(*device_, format, rows, cols, src, dst, importance, options_.chunk_bytes, job);
}

void VulkanBackend::decode(const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src, float* dst,
                           const JobControl* job) {
    if (!accelerates_decode(format)) return cpu_->decode(format, rows, cols, src, dst, job);
    last_timing_ = decode_on(*device_, format, rows, cols, src, dst, options_.chunk_bytes, job);
}

bool VulkanBackend::accelerates_statistics(int64_t cols) const { return can_compute_statistics_on(*device_, cols); }

TensorStats VulkanBackend::statistics(const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                                      const JobControl* job) {
    if (!accelerates_statistics(cols)) return cpu_->statistics(values, rows, cols, request, job);
    TensorStats stats;
    last_timing_ = statistics_on(*device_, values, rows, cols, request, options_.chunk_bytes, job, stats);
    return stats;
}

bool VulkanBackend::accelerates_gptq(int64_t rows, int64_t cols, int64_t block) const {
    return can_update_gptq_on(*device_, rows, cols, block);
}

std::unique_ptr<GptqUpdater> VulkanBackend::gptq_updater(float* w, int64_t rows, int64_t cols, const float* u) {
    return std::make_unique<DeviceGptqUpdater>(*device_, w, rows, cols, u);
}

namespace {

class DeviceHessianSums : public HessianSums {
public:
    DeviceHessianSums(Device& device, int64_t dim) : sums_(device, dim) {}

    void add(const float* x, int64_t rows) override { sums_.add(x, rows); }
    HessianMatrix finish() override { return std::move(sums_).finish(); }

private:
    DeviceHessian sums_;
};

}  // namespace

bool VulkanBackend::accelerates_hessian(int64_t dim) const { return can_accumulate_hessian_on(*device_, dim); }

std::unique_ptr<HessianSums> VulkanBackend::hessian_sums(int64_t dim, int threads) {
    if (!accelerates_hessian(dim)) return make_cpu_hessian_sums(dim, threads);
    return std::make_unique<DeviceHessianSums>(*device_, dim);
}

BackendChoice select_backend(std::string_view preference, const VulkanBackendOptions& options) {
    if (preference == "cpu") return {make_cpu_backend(options.cpu_threads), {}};
    if (preference != "auto" && preference != "vulkan")
        throw Error("backend", "unknown backend '" + std::string(preference) + "' (auto, vulkan, cpu)");
    DeviceStatus status = open_default_device();
    if (!status.available())
        return {make_cpu_backend(options.cpu_threads), "Vulkan unavailable: " + status.reason + "; computing on the CPU"};
    const bool forced = std::getenv("QB_VULKAN_DEVICE") != nullptr;
    if (preference == "auto" && status.device->info().type == DeviceType::Cpu && !forced)
        return {make_cpu_backend(options.cpu_threads),
                "only a software Vulkan device (" + status.device->info().name + ") found; computing on the CPU"};
    return {std::make_unique<VulkanBackend>(std::move(status.device), options), {}};
}

}  // namespace qb::gpu
