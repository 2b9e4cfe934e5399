// The CPU backend: registry codecs (core/quant/format.h) and double-precision statistics, in row
// blocks so a JobControl sees progress and can cancel between blocks.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>

#include "core/backend/backend.h"
#include "core/algo/gptq.h"
#include "core/analysis/kernels.h"
#include "core/jobs/job.h"
#include "core/quant/format.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

constexpr int64_t kValuesPerBlock = int64_t(1) << 22;

// Calls fn(row_begin, row_count) over blocks of about kValuesPerBlock values, reporting each block.
template <typename Fn>
void for_row_blocks(int64_t rows, int64_t cols, const JobControl* job, const char* what, Fn&& fn) {
    const int64_t block_rows = std::max<int64_t>(1, kValuesPerBlock / std::max<int64_t>(cols, 1));
    for (int64_t begin = 0; begin < rows; begin += block_rows) {
        if (job) job->step(begin, rows, what);
        fn(begin, std::min(block_rows, rows - begin));
    }
    if (job) job->step(rows, rows, what);
}

class CpuGptqUpdater : public GptqUpdater {
public:
    CpuGptqUpdater(float* w, int64_t rows, int64_t cols, const float* u) : w_(w), rows_(rows), cols_(cols), u_(u) {}

    void update(const float* err, int64_t i1, int64_t i2, int64_t) override {
        gptq_block_update(err, rows_, i2 - i1, u_ + i1 * cols_ + i2, cols_, w_ + i2, cols_, cols_ - i2);
    }

private:
    float* w_;
    int64_t rows_, cols_;
    const float* u_;
};

class CpuHessianSums : public HessianSums {
public:
    CpuHessianSums(int64_t dim, int threads) : sums_(dim), threads_(threads) {}

    void add(const float* x, int64_t rows) override { sums_.add(x, rows, threads_); }
    HessianMatrix finish() override { return std::move(sums_).finish(); }

private:
    HessianAccumulator sums_;
    int threads_;
};

// Statistics of the rows one worker saw, merged in row order.
struct StatsPart {
    MomentAccumulator moments;
    std::optional<HistogramAccumulator> histogram;
    std::vector<float> col_absmax;
    int64_t nan_count = 0;
    int64_t inf_count = 0;
    std::vector<float> finite;  // scratch: a row's finite values
    std::vector<float> zeroed;  // scratch: the row with non-finite values as 0

    StatsPart(const StatsRequest& request, int64_t cols) {
        if (request.bins) histogram.emplace(request.scale, request.bins, request.lo, request.hi);
        if (request.col_absmax) col_absmax.assign(size_t(cols), 0.0f);
    }

    // Adds one row and returns its absmax.
    float add_row(const float* x, int64_t cols) {
        std::span<const float> finite_values(x, size_t(cols));
        const float* cleaned = x;
        if (!kernels::all_finite(x, cols)) {
            split_non_finite(x, cols);
            finite_values = finite;
            cleaned = zeroed.data();
        }
        moments.add(finite_values);
        if (histogram) histogram->add(finite_values);
        if (!col_absmax.empty()) kernels::abs_max_into(col_absmax.data(), cleaned, cols);
        return kernels::abs_max(cleaned, cols);
    }

    void merge(const StatsPart& other) {
        moments.merge(other.moments);
        if (histogram) histogram->merge(*other.histogram);
        if (!col_absmax.empty()) kernels::abs_max_into(col_absmax.data(), other.col_absmax.data(), int64_t(col_absmax.size()));
        nan_count += other.nan_count;
        inf_count += other.inf_count;
    }

private:
    // Counts the row's NaN and Inf; `finite` gets its finite values, `zeroed` the row with the others 0.
    void split_non_finite(const float* x, int64_t cols) {
        finite.clear();
        zeroed.assign(x, x + cols);
        for (int64_t i = 0; i < cols; ++i) {
            if (std::isfinite(x[i])) {
                finite.push_back(x[i]);
                continue;
            }
            std::isnan(x[i]) ? ++nan_count : ++inf_count;
            zeroed[size_t(i)] = 0.0f;
        }
    }
};

class CpuBackend : public Backend {
public:
    explicit CpuBackend(int threads) : threads_(threads <= 0 ? hardware_threads() : threads) {}

    std::string name() const override { return "cpu"; }
    std::string description() const override { return "CPU (" + std::to_string(threads_) + " threads)"; }
    bool accelerates_encode(const FormatInfo&, bool) const override { return false; }
    bool accelerates_decode(const FormatInfo&) const override { return false; }
    bool accelerates_statistics(int64_t) const override { return false; }
    bool accelerates_gptq(int64_t, int64_t, int64_t) const override { return false; }
    bool accelerates_hessian(int64_t) const override { return false; }

    std::unique_ptr<GptqUpdater> gptq_updater(float* w, int64_t rows, int64_t cols, const float* u) override {
        return make_cpu_gptq_updater(w, rows, cols, u);
    }
    std::unique_ptr<HessianSums> hessian_sums(int64_t dim, int threads) override {
        return make_cpu_hessian_sums(dim, threads);
    }

    void encode(const FormatInfo& f, int64_t rows, int64_t cols, const float* src, uint8_t* dst, const float* importance,
                const JobControl* job) override {
        if (f.header_bytes) {  // a whole-tensor scale needs every row at once
            if (job) job->check("encode " + f.name);
            encode_tensor(f, src, rows, cols, dst, importance, threads_);
            return;
        }
        const size_t row_bytes = f.row_bytes(cols);
        for_row_blocks(rows, cols, job, "encode", [&](int64_t begin, int64_t count) {
            encode_tensor(f, src + begin * cols, count, cols, dst + size_t(begin) * row_bytes, importance, threads_);
        });
    }

    void decode(const FormatInfo& f, int64_t rows, int64_t cols, const uint8_t* src, float* dst, const JobControl* job) override {
        for_row_blocks(rows, cols, job, "decode", [&](int64_t begin, int64_t count) {
            decode_rows(f, src, cols, begin, count, dst + begin * cols, threads_);
        });
    }

    TensorStats statistics(const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                           const JobControl* job) override {
        validate(request);
        TensorStats result;
        if (request.row_absmax) result.row_absmax.assign(size_t(rows), 0.0f);
        StatsPart total(request, cols);
        std::mutex parts_mutex;
        for_row_blocks(rows, cols, job, "statistics", [&](int64_t block_begin, int64_t block_rows) {
            std::map<int64_t, StatsPart> parts;  // by first row, so merging follows row order
            parallel_for(block_rows, threads_, [&](int64_t begin, int64_t end) {
                StatsPart part(request, cols);
                for (int64_t r = block_begin + begin; r < block_begin + end; ++r) {
                    const float absmax = part.add_row(values + r * cols, cols);
                    if (request.row_absmax) result.row_absmax[size_t(r)] = absmax;
                }
                std::lock_guard lock(parts_mutex);
                parts.emplace(begin, std::move(part));
            });
            for (const auto& [begin, part] : parts) total.merge(part);
        });
        result.moments = total.moments.result();
        result.nan_count = total.nan_count;
        result.inf_count = total.inf_count;
        result.histogram = total.histogram ? total.histogram->result() : Histogram{};
        result.col_absmax = std::move(total.col_absmax);
        return result;
    }

private:
    int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

std::unique_ptr<GptqUpdater> make_cpu_gptq_updater(float* w, int64_t rows, int64_t cols, const float* u) {
    return std::make_unique<CpuGptqUpdater>(w, rows, cols, u);
}

std::unique_ptr<HessianSums> make_cpu_hessian_sums(int64_t dim, int threads) {
    return std::make_unique<CpuHessianSums>(dim, threads);
}

}  // namespace qb
