// Where a job's number crunching runs: the CPU (always there) or a Vulkan device (gpu/, chosen with
// qb::gpu::select_backend). Jobs take a Backend& and call it like a library, so a job can run on
// "cpu" or "vulkan" without knowing which. A backend without a kernel for a request runs the CPU
// code itself: every call succeeds on every backend; accelerates_*() tell which calls really move.
// Results agree across backends: identical bytes for deterministic formats, statistics as stated in
// tensor_stats.h. Long calls report progress and honour cancellation through the optional JobControl.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend/tensor_stats.h"

namespace qb {

class JobControl;
struct FormatInfo;

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string name() const = 0;         // "cpu", "vulkan"
    virtual std::string description() const = 0;  // one line for a status bar

    virtual bool accelerates_encode(const FormatInfo& format, bool with_importance) const = 0;
    virtual bool accelerates_decode(const FormatInfo& format) const = 0;
    virtual bool accelerates_statistics(int64_t cols) const = 0;

    // rows x cols values (row-major) -> format.tensor_bytes(rows, cols) bytes at dst. importance:
    // per-column weights (length cols) or nullptr. Throws Error for shapes the format cannot store.
    virtual void encode(const FormatInfo& format, int64_t rows, int64_t cols, const float* src, uint8_t* dst,
                        const float* importance = nullptr, const JobControl* job = nullptr) = 0;
    // format.tensor_bytes(rows, cols) bytes -> rows x cols values.
    virtual void decode(const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src, float* dst,
                        const JobControl* job = nullptr) = 0;
    virtual TensorStats statistics(const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                                   const JobControl* job = nullptr) = 0;
};

// The CPU backend: the registry codecs and plain double-precision loops. threads <= 0: all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace qb
