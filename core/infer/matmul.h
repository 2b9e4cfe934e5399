// Dense f32 matrix product for the forward pass: C = A · Bᵀ, where A holds activations (one token per
// row) and B a weight matrix in PyTorch order (one output feature per row), so both operands run along
// their rows. Cache-blocked, packed and multithreaded; every output element is summed over k in the same
// order whatever the thread count or the form of B, so results are reproducible bit for bit.
#pragma once
#include <cstdint>
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

// c (a.rows x b.rows) = a · bᵀ; a.cols must equal b.cols. threads <= 0: all hardware threads.
void matmul_nt(ConstMatrixRef a, ConstMatrixRef b, MatrixRef c, int threads);
void matmul_nt(ConstMatrixRef a, const PackedMatrix& b, MatrixRef c, int threads);

}  // namespace qb
