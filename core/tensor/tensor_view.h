// A read-only view of one weight tensor in canonical form: shape {rows, cols} (PyTorch order, cols
// innermost; 1-D tensors are {n} and read as one row), values stored in a registry format inside a
// memory-mapped file. Decoding happens on demand, a row range at a time, so a model never needs to be
// resident in memory. Layout differences between file formats are absorbed here:
//   - row_order: canonical row i is stored row row_order[i] (HF q/k rotary permutation), empty = identity;
//   - stored_transposed: the file holds the {cols, rows} transpose (GPT-2 Conv1D weights).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/quant/format.h"

namespace qb {

struct TensorView {
    std::string name;         // canonical name, e.g. "blk.3.attn_q" (no ".weight"; biases end in ".bias")
    std::string source_name;  // name inside the file, e.g. "model.layers.3.self_attn.q_proj.weight"
    std::string source_file;  // path of the file holding the data
    std::vector<int64_t> shape;
    const FormatInfo* format = nullptr;
    std::span<const uint8_t> data;  // stored bytes (format layout of the stored shape)
    std::vector<int32_t> row_order;
    bool stored_transposed = false;
    std::shared_ptr<const void> keep_alive;  // owner of the mapping behind `data`
    bool file_backed = false;  // `data` lies in a read-only file mapping (pages can be dropped and re-read)

    int64_t rows() const { return shape.size() < 2 ? 1 : numel() / shape.back(); }
    int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
    int64_t numel() const;
    size_t stored_bytes() const { return data.size(); }

    // Decodes canonical rows [row_begin, row_begin + row_count) to f32 (row_count * cols values).
    void read_rows(int64_t row_begin, int64_t row_count, float* dst, int threads = 1) const;
    std::vector<float> to_f32(int threads = 1) const;
    // Drop the resident pages of this tensor's mapped bytes (re-read from the file if needed again), so
    // streaming jobs keep peak memory at their working set rather than the tensors they have touched.
    // No-ops unless file_backed. evict_rows covers the stored bytes of canonical rows and only acts when
    // canonical rows are stored in order (no row_order, not transposed); evict_pages covers the tensor.
    void evict_pages() const;
    void evict_rows(int64_t row_begin, int64_t row_count) const;
};

}  // namespace qb
