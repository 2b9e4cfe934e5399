#include "core/tensor/tensor_view.h"

#include <numeric>
#include <sys/mman.h>
#include <unistd.h>

#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

// Only whole pages inside the range: neighbours sharing a boundary page keep theirs.
void drop_pages(std::span<const uint8_t> bytes) {
    static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(bytes.data()) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size()) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

int64_t TensorView::numel() const {
    return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
}

void TensorView::read_rows(int64_t row_begin, int64_t row_count, float* dst, int threads) const {
    if (!format) throw Error(source_file, "tensor '" + source_name + "' has no decodable format");
    if (row_begin < 0 || row_count < 0 || row_begin + row_count > rows())
        throw Error(source_file, "tensor '" + name + "': rows " + std::to_string(row_begin) + "+" +
                                     std::to_string(row_count) + " out of range (" + std::to_string(rows()) + " rows)");
    const int64_t n_cols = cols();
    if (stored_transposed) {
        // The file holds the transpose: canonical row r is stored column r. Decode stored rows one at a
        // time and scatter the wanted columns; only one stored row is resident.
        std::vector<float> stored_row(static_cast<size_t>(rows()));
        for (int64_t c = 0; c < n_cols; ++c) {
            decode_rows(*format, data.data(), rows(), c, 1, stored_row.data());
            for (int64_t r = 0; r < row_count; ++r) dst[r * n_cols + c] = stored_row[size_t(row_begin + r)];
        }
        return;
    }
    if (row_order.empty()) {
        decode_rows(*format, data.data(), n_cols, row_begin, row_count, dst, threads);
        return;
    }
    parallel_for(row_count, threads, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
            decode_rows(*format, data.data(), n_cols, row_order[size_t(row_begin + r)], 1, dst + r * n_cols);
    });
}

std::vector<float> TensorView::to_f32(int threads) const {
    std::vector<float> out(static_cast<size_t>(numel()));
    read_rows(0, rows(), out.data(), threads);
    return out;
}

void TensorView::evict_pages() const {
    if (file_backed) drop_pages(data);
}

void TensorView::evict_rows(int64_t row_begin, int64_t row_count) const {
    if (!file_backed || !format || stored_transposed || !row_order.empty()) return;
    const size_t row_bytes = format->row_bytes(cols());
    drop_pages(data.subspan(format->header_bytes + size_t(row_begin) * row_bytes, size_t(row_count) * row_bytes));
}

}  // namespace qb
