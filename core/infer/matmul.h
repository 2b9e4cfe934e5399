// Dense f32 matrix product for the forward pass: C = A · Bᵀ, where A holds activations (one token per
// row) and B a weight matrix in PyTorch order (one output feature per row), so both operands run along
// their rows. Cache-blocked, packed and multithreaded; every output element is summed over k in the same
// order whatever the thread count or the form of B (plain, pre-packed or decoded on demand), so results
// are reproducible bit for bit.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace qb {

struct ConstMatrixRef {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0;
    int64_t stride = 0;  // floats between consecutive rows (>= cols)
};

struct MatrixRef {
    float* data = nullptr;
    int64_t rows = 0, cols = 0;
    int64_t stride = 0;
};

// A B operand rearranged once into the panel order the product streams, for matrices multiplied many
// times (weights): products with it skip the per-call rearrangement, which costs as much as the
// arithmetic when A has few rows. Holds the only copy of the values (about the same size as B).
class PackedMatrix {
public:
    PackedMatrix() = default;
    explicit PackedMatrix(ConstMatrixRef b, int threads = 1);

    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    void unpack_row(int64_t row, float* dst) const;  // cols values
    std::vector<float> unpack() const;               // rows x cols, row-major

private:
    friend void matmul_nt(ConstMatrixRef a, const PackedMatrix& b, MatrixRef c, int threads);
    const float* panels(int64_t column_block, int64_t depth_slice) const;
    int64_t offset(int64_t column_block, int64_t depth_slice) const;

    int64_t rows_ = 0, cols_ = 0;
    std::vector<float> panels_;
};

// A B operand whose rows are produced on demand, such as weights decoded from their stored format:
// decode(first, count, dst) writes rows first..first+count-1 (cols values each, row-major) to dst. A product
// calls it from its workers, concurrently, a few rows at a time, and packs them on the fly, so no copy of
// the whole operand ever exists: each worker holds one column block (at most 512 rows) of it.
struct RowSource {
    int64_t rows = 0, cols = 0;
    std::function<void(int64_t first, int64_t count, float* dst)> decode;
};

// Bytes held at once by the buffers products fill from a RowSource (current and peak, thread-safe): an
// allocation count for tests and benchmarks, independent of the allocator and of the page cache.
class ByteGauge {
public:
    void add(int64_t bytes);
    void remove(int64_t bytes);
    int64_t peak() const { return peak_.load(); }

private:
    std::atomic<int64_t> now_{0}, peak_{0};
};

// c (a.rows x b.rows) = a · bᵀ; a.cols must equal b.cols. threads <= 0: all hardware threads.
void matmul_nt(ConstMatrixRef a, ConstMatrixRef b, MatrixRef c, int threads);
void matmul_nt(ConstMatrixRef a, const PackedMatrix& b, MatrixRef c, int threads);
void matmul_nt(ConstMatrixRef a, const RowSource& b, MatrixRef c, int threads, ByteGauge* gauge = nullptr);

}  // namespace qb
