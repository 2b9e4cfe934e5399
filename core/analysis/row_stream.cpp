#include "core/analysis/row_stream.h"

#include <algorithm>
#include <vector>

#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {

AnalysisProgress::AnalysisProgress(JobControl* control, int64_t total_units, std::string what)
    : control_(control), total_(total_units), what_(std::move(what)) {}

void AnalysisProgress::advance(int64_t units) {
    if (!control_) return;
    std::lock_guard lock(mutex_);
    done_ += units;
    control_->step(done_, total_, what_);
}

void AnalysisProgress::check() const {
    if (control_) control_->check(what_);
}

void require_values(const TensorView& view) {
    if (view.numel() <= 0) throw Error(view.name, "tensor has no values to analyse");
}

int64_t block_rows_for(int64_t cols, int64_t requested) {
    constexpr int64_t kValuesPerBlock = int64_t(1) << 16;
    if (requested > 0) return requested;
    return std::max<int64_t>(1, kValuesPerBlock / std::max<int64_t>(cols, 1));
}

int row_workers(int64_t rows, int threads) {
    const int wanted = threads <= 0 ? hardware_threads() : threads;
    return int(std::clamp<int64_t>(rows, 1, wanted));
}

void stream_rows(const TensorView& view, int workers, int64_t block_rows, AnalysisProgress& progress,
                 const RowBlockConsumer& consume) {
    const int64_t rows = view.rows(), cols = view.cols();
    parallel_for(workers, workers, [&](int64_t worker, int64_t) {
        const int64_t begin = rows * worker / workers, end = rows * (worker + 1) / workers;
        std::vector<float> block(size_t(std::min(block_rows, std::max<int64_t>(end - begin, 1)) * cols));
        for (int64_t first = begin; first < end; first += block_rows) {
            progress.check();
            const int64_t count = std::min(block_rows, end - first);
            view.read_rows(first, count, block.data());
            consume(int(worker), first, count, block.data());
            view.evict_rows(first, count);
            progress.advance(count);
        }
    });
}

}  // namespace qb
