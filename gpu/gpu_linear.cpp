#include "gpu/gpu_linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/infer/forward.h"
#include "core/quant/format.h"
#include "gpu/matmul_kernels.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"

namespace qb::gpu {
namespace {

int64_t default_budget(const Device& device) {
    // Where device memory is host memory (lavapipe, integrated GPUs), resident weights cost the host what
    // the CPU forward pass's resident budget allows it.
    if (device.unified_memory()) return kResidentWeightBudget;
    uint64_t largest = 0;
    for (const MemoryHeap& heap : device.info().heaps)
        if (heap.device_local) largest = std::max(largest, heap.bytes);
    return int64_t(largest / 2);
}

}  // namespace

GpuLinearExecutor::GpuLinearExecutor(std::shared_ptr<Device> device, GpuLinearOptions options)
    : device_(std::move(device)), options_(options),
      budget_(options.resident_budget_bytes < 0 ? default_budget(*device_) : options.resident_budget_bytes) {}

GpuLinearExecutor::~GpuLinearExecutor() = default;

std::string GpuLinearExecutor::description() const {
    return "Vulkan: " + device_->info().name + " (" + device_->info().driver_name + ")";
}

bool GpuLinearExecutor::accepts(const TensorView& w) const {
    return w.format && w.format->header_bytes == 0 && w.shape.size() == 2 && !w.stored_transposed &&
           (w.row_order.empty() || int64_t(w.row_order.size()) == w.rows()) &&
           int64_t(w.data.size()) == int64_t(w.format->tensor_bytes(w.rows(), w.cols())) &&
           can_multiply_on(*device_, *w.format, w.cols());
}

int64_t GpuLinearExecutor::resident_bytes() const {
    std::lock_guard lock(mutex_);
    return resident_bytes_;
}

int64_t GpuLinearExecutor::streamed_uploads() const {
    std::lock_guard lock(mutex_);
    return streamed_uploads_;
}

void GpuLinearExecutor::release() {
    std::lock_guard lock(mutex_);
    resident_.clear();
    resident_bytes_ = 0;
}

// The weight's device copy when it is (or now becomes) resident; nullptr when it does not fit the budget.
std::shared_ptr<const DeviceMatrix> GpuLinearExecutor::resident(const TensorView& w) {
    std::lock_guard lock(mutex_);
    if (auto it = resident_.find(w.data.data()); it != resident_.end()) return it->second.matrix;
    const int64_t bytes = int64_t(w.data.size());
    if (resident_bytes_ + bytes > budget_) {
        ++streamed_uploads_;
        return nullptr;
    }
    auto matrix = std::make_shared<const DeviceMatrix>(*device_, *w.format, w.rows(), w.cols(), w.data.data(),
                                                       options_.slab_budget);
    w.evict_pages();  // the device copy is all later products read
    resident_.emplace(w.data.data(), Entry{w.keep_alive, matrix});
    resident_bytes_ += bytes;
    return matrix;
}

bool GpuLinearExecutor::multiply(const TensorView& w, ConstMatrixRef x, MatrixRef y) {
    const int64_t tokens = x.rows, rows = w.rows(), cols = w.cols();
    if (!accepts(w) || x.cols != cols || y.cols != rows || y.rows != tokens) return false;
    if (tokens == 0) return true;
    std::shared_ptr<const DeviceMatrix> matrix = resident(w);
    if (!matrix) {
        matrix = std::make_shared<const DeviceMatrix>(*device_, *w.format, rows, cols, w.data.data(), options_.slab_budget);
        w.evict_pages();
    }
    // The kernels read and write packed rows.
    std::vector<float> packed_x;
    const float* a = x.data;
    if (x.stride != cols) {
        packed_x.resize(size_t(tokens * cols));
        for (int64_t i = 0; i < tokens; ++i)
            std::memcpy(packed_x.data() + i * cols, x.data + i * x.stride, size_t(cols) * sizeof(float));
        a = packed_x.data();
    }
    if (y.stride == rows && w.row_order.empty()) {
        matrix->multiply(a, tokens, y.data);
        return true;
    }
    std::vector<float> packed_y(size_t(tokens * rows));  // outputs in stored row order
    matrix->multiply(a, tokens, packed_y.data());
    for (int64_t i = 0; i < tokens; ++i) {
        const float* src = packed_y.data() + i * rows;
        float* dst = y.data + i * y.stride;
        if (w.row_order.empty())
            std::memcpy(dst, src, size_t(rows) * sizeof(float));
        else  // canonical row r is stored row row_order[r]
            for (int64_t r = 0; r < rows; ++r) dst[r] = src[w.row_order[size_t(r)]];
    }
    return true;
}

std::unique_ptr<GpuLinearExecutor> linear_executor_for(const Backend& backend, GpuLinearOptions options) {
    const auto* vulkan = dynamic_cast<const VulkanBackend*>(&backend);
    return vulkan ? std::make_unique<GpuLinearExecutor>(vulkan->shared_device(), options) : nullptr;
}

}  // namespace qb::gpu
