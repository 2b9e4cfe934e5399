// The values of a rectangle of a weight matrix (one heat-map cell of the outlier map), decoded from the
// tensor's storage: rows [firstRow, firstRow + rows) × columns [firstCol, firstCol + cols).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor/tensor_view.h"

namespace qbui {

struct MatrixBlock {
    int64_t firstRow = 0, firstCol = 0;
    int64_t rows = 0, cols = 0;
    std::vector<float> values;  // rows × cols, row-major

    float at(int64_t row, int64_t col) const { return values[size_t(row * cols + col)]; }
};

// The rectangle is clipped to the matrix; throws qb::Error naming the tensor when it is empty.
MatrixBlock readMatrixBlock(const qb::TensorView& view, int64_t firstRow, int64_t rows, int64_t firstCol, int64_t cols);

}  // namespace qbui
