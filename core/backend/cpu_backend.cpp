// The CPU backend: registry codecs (core/quant/format.h) and double-precision statistics, in row
// blocks so a JobControl sees progress and can cancel between blocks.
#include <algorithm>
#include <limits>
#include <mutex>

#include "core/backend/backend.h"
#include "core/formulas/formulas.h"
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

struct StatsAccumulator {
    TensorStats stats;
    std::vector<float> col_absmax;

    StatsAccumulator(const StatsRequest& request, int64_t cols) {
        stats.min = std::numeric_limits<double>::infinity();
        stats.max = -std::numeric_limits<double>::infinity();
        stats.histogram.assign(size_t(request.bins), 0);
        if (request.col_absmax) col_absmax.assign(size_t(cols), 0.0f);
    }

    void merge(const StatsAccumulator& other) {
        TensorStats& s = stats;
        const TensorStats& o = other.stats;
        s.count += o.count;
        s.min = std::min(s.min, o.min);
        s.max = std::max(s.max, o.max);
        s.sum += o.sum;
        s.sum2 += o.sum2;
        s.sum3 += o.sum3;
        s.sum4 += o.sum4;
        s.below += o.below;
        s.above += o.above;
        for (size_t b = 0; b < s.histogram.size(); ++b) s.histogram[b] += o.histogram[b];
        for (size_t c = 0; c < col_absmax.size(); ++c) col_absmax[c] = std::max(col_absmax[c], other.col_absmax[c]);
    }
};

class CpuBackend : public Backend {
public:
    explicit CpuBackend(int threads) : threads_(threads <= 0 ? hardware_threads() : threads) {}

    std::string name() const override { return "cpu"; }
    std::string description() const override { return "CPU (" + std::to_string(threads_) + " threads)"; }
    bool accelerates_encode(const FormatInfo&, bool) const override { return false; }
    bool accelerates_decode(const FormatInfo&) const override { return false; }

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
        StatsAccumulator total(request, cols);
        if (request.row_absmax) total.stats.row_absmax.assign(size_t(rows), 0.0f);
        std::mutex merge_mutex;
        for_row_blocks(rows, cols, job, "statistics", [&](int64_t block_begin, int64_t block_rows) {
            parallel_for(block_rows, threads_, [&](int64_t begin, int64_t end) {
                StatsAccumulator part(request, cols);
                for (int64_t r = block_begin + begin; r < block_begin + end; ++r) {
                    const float absmax = accumulate_row(values + r * cols, cols, request, part);
                    if (request.row_absmax) total.stats.row_absmax[size_t(r)] = absmax;
                }
                std::lock_guard lock(merge_mutex);
                total.merge(part);
            });
        });
        total.stats.col_absmax = std::move(total.col_absmax);
        if (!total.stats.count) total.stats.min = total.stats.max = 0;
        return total.stats;
    }

private:
    // Adds one row to `part` and returns the row's absmax.
    static float accumulate_row(const float* row, int64_t cols, const StatsRequest& request, StatsAccumulator& part) {
        TensorStats& s = part.stats;
        const float scale = request.bins ? formula::histogram_scale(request.lo, request.hi, request.bins) : 0.0f;
        float absmax = 0.0f;
        for (int64_t c = 0; c < cols; ++c) {
            const float x = row[c];
            const double v = x;
            const double v2 = v * v;
            s.min = std::min(s.min, v);
            s.max = std::max(s.max, v);
            s.sum += v;
            s.sum2 += v2;
            s.sum3 += v2 * v;
            s.sum4 += v2 * v2;
            absmax = std::max(absmax, std::fabs(x));
            if (!part.col_absmax.empty()) part.col_absmax[size_t(c)] = std::max(part.col_absmax[size_t(c)], std::fabs(x));
            if (request.bins) count_in_histogram(formula::histogram_bin(x, request.lo, request.hi, scale, request.bins), s);
        }
        s.count += cols;
        return absmax;
    }

    static void count_in_histogram(int bin, TensorStats& s) {
        if (bin < 0)
            ++s.below;
        else if (bin >= int(s.histogram.size()))
            ++s.above;
        else
            ++s.histogram[size_t(bin)];
    }

    int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace qb
