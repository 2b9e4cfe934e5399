#include "ui/analysis/matrix_block.h"

#include <algorithm>

#include "core/util/error.h"

namespace qbui {

MatrixBlock readMatrixBlock(const qb::TensorView& view, int64_t firstRow, int64_t rows, int64_t firstCol, int64_t cols) {
    MatrixBlock block;
    block.firstRow = std::clamp<int64_t>(firstRow, 0, view.rows());
    block.firstCol = std::clamp<int64_t>(firstCol, 0, view.cols());
    block.rows = std::clamp<int64_t>(rows, 0, view.rows() - block.firstRow);
    block.cols = std::clamp<int64_t>(cols, 0, view.cols() - block.firstCol);
    if (block.rows == 0 || block.cols == 0) throw qb::Error(view.name, "no values in the requested rectangle");
    std::vector<float> fullRows(size_t(block.rows * view.cols()));
    view.read_rows(block.firstRow, block.rows, fullRows.data());
    block.values.resize(size_t(block.rows * block.cols));
    for (int64_t r = 0; r < block.rows; ++r)
        std::copy_n(fullRows.begin() + r * view.cols() + block.firstCol, block.cols, block.values.begin() + r * block.cols);
    return block;
}

}  // namespace qbui
