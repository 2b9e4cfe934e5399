// Where a job's number crunching runs: the CPU (always there) or a Vulkan device (gpu/, chosen with
// qb::gpu::select_backend). Jobs take a Backend& and call it like a library, so a job can run on
// "cpu" or "vulkan" without knowing which. A backend without a kernel for a request runs the CPU
// code itself: every call succeeds on every backend; accelerates_*() tell which calls really move.
// Results agree across backends: identical bytes for deterministic formats, statistics as stated in
// tensor_stats.h, GPTQ's block update as stated at GptqUpdater, Hessians as stated at HessianSums. Long
// calls report progress and honour cancellation through the optional JobControl.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/analysis/hessian.h"
#include "core/backend/tensor_stats.h"

namespace qb {

class JobControl;
struct FormatInfo;

// GPTQ's lazy batch update (core/algo/gptq.h) for a group of rows whose columns the algorithm quantizes
// block by block on the host: w (rows x cols, row stride cols, columns in sweep order) is the host's copy
// of the group, u the cols x cols upper factor of H⁻¹ in sweep order; both outlive the updater. A backend
// may keep its own copy of w, so only the columns update() names are current on the host.
// Every element is updated as core/algo/linalg.h's subtract_product does it (fused multiply-adds in depth
// order, restarted every 128): backends agree bit for bit where the device fuses its multiply-adds, and
// within a rounding per term elsewhere (gpu/gptq_kernel.h), which can flip an occasional GPTQ code.
class GptqUpdater {
public:
    virtual ~GptqUpdater() = default;
    // err (rows x (i2 - i1), row stride i2 - i1) holds the scaled errors of columns i1..i2-1 of every row:
    // subtracts err · u[i1:i2, i2:] from the columns from i2 on, and returns once columns i2..ready_end-1
    // of the host's w are current.
    virtual void update(const float* err, int64_t i1, int64_t i2, int64_t ready_end) = 0;
};

// Calibration's Hessian H = XᵀX / tokens of one linear input with dim channels, with core/analysis/hessian.h's
// semantics (tokens in blocks of HessianAccumulator::kTokensPerProduct, each block summed in f32 and added
// into f64 sums; upper triangle mirrored). The CPU's is HessianAccumulator itself, so its H is the bytes of
// calling that directly. A device sums each f32 block in another order: elements differ from the CPU's
// within 2 x kTokensPerProduct x 2^-24 x sqrt(H_ii H_jj) (each block sum is within kTokensPerProduct x
// 2^-24 x Σ_t |x_ti x_tj| of the exact one, and Cauchy-Schwarz bounds that sum), gpu/hessian_kernel.h.
class HessianSums {
public:
    virtual ~HessianSums() = default;
    // Adds Σ_t x_t x_tᵀ of `rows` tokens (x: rows x dim, row-major).
    virtual void add(const float* x, int64_t rows) = 0;
    // H normalised by the tokens added (all zero while none was); call once.
    virtual HessianMatrix finish() = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string name() const = 0;         // "cpu", "vulkan"
    virtual std::string description() const = 0;  // one line for a status bar

    virtual bool accelerates_encode(const FormatInfo& format, bool with_importance) const = 0;
    virtual bool accelerates_decode(const FormatInfo& format) const = 0;
    virtual bool accelerates_statistics(int64_t cols) const = 0;
    // True when gptq_updater() runs on a device for a rows x cols layer swept in blocks of up to `block`
    // columns; then GPTQ hands gptq_updater() all rows at once. False (the CPU): GPTQ sweeps groups of rows
    // that stay in cache on its own threads, each with make_cpu_gptq_updater().
    virtual bool accelerates_gptq(int64_t rows, int64_t cols, int64_t block) const = 0;
    // True when hessian_sums() accumulates a dim-channel Hessian on a device.
    virtual bool accelerates_hessian(int64_t dim) const = 0;

    // rows x cols values (row-major) -> format.tensor_bytes(rows, cols) bytes at dst. importance:
    // per-column weights (length cols) or nullptr. Throws Error for shapes the format cannot store.
    virtual void encode(const FormatInfo& format, int64_t rows, int64_t cols, const float* src, uint8_t* dst,
                        const float* importance = nullptr, const JobControl* job = nullptr) = 0;
    // format.tensor_bytes(rows, cols) bytes -> rows x cols values.
    virtual void decode(const FormatInfo& format, int64_t rows, int64_t cols, const uint8_t* src, float* dst,
                        const JobControl* job = nullptr) = 0;
    virtual TensorStats statistics(const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                                   const JobControl* job = nullptr) = 0;
    // An updater for the group w (see GptqUpdater); throws Error where the device cannot hold it.
    virtual std::unique_ptr<GptqUpdater> gptq_updater(float* w, int64_t rows, int64_t cols, const float* u) = 0;
    // An accumulator of a dim-channel Hessian (see HessianSums): the device's where accelerates_hessian(dim),
    // else make_cpu_hessian_sums(dim, threads). threads: for the CPU's (<= 0: all hardware threads).
    virtual std::unique_ptr<HessianSums> hessian_sums(int64_t dim, int threads) = 0;
};

// The CPU's GptqUpdater: core/algo/gptq.h's gptq_block_update on w in place (one thread).
std::unique_ptr<GptqUpdater> make_cpu_gptq_updater(float* w, int64_t rows, int64_t cols, const float* u);

// The CPU's HessianSums: core/analysis/hessian.h's HessianAccumulator on `threads` threads.
std::unique_ptr<HessianSums> make_cpu_hessian_sums(int64_t dim, int threads);

// The CPU backend: the registry codecs and plain double-precision loops. threads <= 0: all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace qb
