// Streams the rows of a TensorView through a consumer, decoded a block of rows at a time, so at most
// `workers` blocks are resident whatever the tensor size (the mapped pages of a consumed block are
// dropped, see TensorView::evict_rows). Worker w owns the contiguous row range
// [w·rows/workers, (w+1)·rows/workers) and sees its rows in order; per-worker accumulators merged in
// worker order therefore give results that do not depend on the block size.
// Progress and cancellation go through an optional JobControl: every block checks for cancellation
// (qb::Cancelled propagates to the caller) and reports progress; progress callbacks come from the
// worker threads, one at a time.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "core/jobs/job.h"
#include "core/tensor/tensor_view.h"

namespace qb {

// Shares one JobControl between the passes of an analysis: units done so far out of a known total.
class AnalysisProgress {
public:
    AnalysisProgress(JobControl* control, int64_t total_units, std::string what);
    void advance(int64_t units);  // thread-safe; throws Cancelled when the job was cancelled
    void check() const;

private:
    JobControl* control_;
    int64_t total_;
    int64_t done_ = 0;
    std::string what_;
    std::mutex mutex_;
};

// Throws Error naming the tensor when it has no values to analyse.
void require_values(const TensorView& view);
// Rows per decoded block: `requested` if positive, else about 64 Ki values (256 KiB of f32) worth.
int64_t block_rows_for(int64_t cols, int64_t requested);
// Worker threads for a pass over `rows` rows: threads <= 0 means all hardware threads.
int row_workers(int64_t rows, int threads);

using RowBlockConsumer = std::function<void(int worker, int64_t first_row, int64_t row_count, const float* values)>;
// Runs consume over every row of view; each finished row counts as one progress unit.
void stream_rows(const TensorView& view, int workers, int64_t block_rows, AnalysisProgress& progress,
                 const RowBlockConsumer& consume);

}  // namespace qb
