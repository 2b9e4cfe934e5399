// Dense f32 matrix product for the forward pass: C = A · Bᵀ, where A holds activations (one token per
// row) and B a weight matrix in PyTorch order (one output feature per row), so both operands run along
// their rows. Cache-blocked, packed and multithreaded; every output element is summed over k in the same
// order whatever the thread count, so results are reproducible bit for bit.
#pragma once
#include <cstdint>

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

// c (a.rows x b.rows) = a · bᵀ; a.cols must equal b.cols. threads <= 0: all hardware threads.
void matmul_nt(ConstMatrixRef a, ConstMatrixRef b, MatrixRef c, int threads);

}  // namespace qb
