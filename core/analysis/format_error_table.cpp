#include "core/analysis/format_error_table.h"

#include <algorithm>

#include "core/util/parallel.h"

namespace qb {
namespace {

std::string measurability_problem(const FormatInfo& format, int64_t cols) {
    if (!format.can_encode()) return "can be read but not produced";
    if (format.header_bytes > 0)
        return "its per-tensor header needs the whole tensor at once; not measured while streaming";
    return format.shape_problem(cols);
}

}  // namespace

std::vector<const FormatInfo*> default_error_formats(int64_t cols) {
    std::vector<const FormatInfo*> formats;
    for (const FormatInfo* f : registered_formats())
        if (f->can_encode() && f->shape_problem(cols).empty()) formats.push_back(f);
    return formats;
}

std::vector<FormatError> measure_format_errors(const TensorView& view, std::span<const FormatInfo* const> formats,
                                               JobControl* control, int threads, int64_t block_rows) {
    AnalysisProgress progress(control, view.rows(), "format errors of " + view.name);
    return measure_format_errors(view, formats, progress, threads, block_rows);
}

std::vector<FormatError> measure_format_errors(const TensorView& view, std::span<const FormatInfo* const> formats,
                                               AnalysisProgress& progress, int threads, int64_t block_rows) {
    require_values(view);
    const int64_t rows = view.rows(), cols = view.cols();
    std::vector<FormatError> table;
    std::vector<const FormatInfo*> measured;
    for (const FormatInfo* f : formats) {
        table.push_back({f->name, {}, measurability_problem(*f, cols)});
        if (table.back().problem.empty()) measured.push_back(f);
    }
    const int64_t block = block_rows_for(cols, block_rows);
    std::vector<float> original(size_t(std::min(block, rows) * cols));
    std::vector<std::vector<float>> decoded(measured.size(), std::vector<float>(original.size()));
    std::vector<ErrorAccumulator> accumulators(measured.size(), ErrorAccumulator(cols));
    size_t max_row_bytes = 0;
    for (const FormatInfo* f : measured) max_row_bytes = std::max(max_row_bytes, f->row_bytes(cols));

    for (int64_t first = 0; first < rows; first += block) {
        progress.check();
        const int64_t count = std::min(block, rows - first);
        view.read_rows(first, count, original.data(), threads);
        parallel_for(count, threads, [&](int64_t begin, int64_t end) {
            std::vector<uint8_t> encoded(max_row_bytes);
            for (size_t k = 0; k < measured.size(); ++k)
                for (int64_t r = begin; r < end; ++r) {
                    const FormatInfo& f = *measured[k];
                    f.encode_row(f, original.data() + r * cols, cols, encoded.data(), nullptr, nullptr);
                    f.decode_row(f, encoded.data(), cols, decoded[k].data() + r * cols, nullptr);
                }
        });
        parallel_for(int64_t(measured.size()), threads, [&](int64_t begin, int64_t end) {
            for (int64_t k = begin; k < end; ++k)
                accumulators[size_t(k)].add_rows(original.data(), decoded[size_t(k)].data(), count);
        });
        view.evict_rows(first, count);
        progress.advance(count);
    }
    size_t next = 0;
    for (FormatError& entry : table) {
        if (!entry.problem.empty()) continue;
        entry.metrics = accumulators[next].metrics();
        entry.metrics.bits_per_weight = measured[next]->bits_per_weight(rows, cols);
        ++next;
    }
    return table;
}

}  // namespace qb
