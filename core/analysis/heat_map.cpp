#include "core/analysis/heat_map.h"

#include <algorithm>
#include <string>

#include "core/analysis/kernels.h"
#include "core/util/error.h"

namespace qb {
namespace {

std::vector<int64_t> block_edges(int64_t length, int64_t max_cells) {
    const int64_t cells = std::max<int64_t>(1, std::min(length, max_cells));
    std::vector<int64_t> edges(size_t(cells) + 1);
    for (int64_t i = 0; i <= cells; ++i) edges[size_t(i)] = i * length / cells;
    return edges;
}

}  // namespace

std::string_view heat_map_reduce_name(HeatMapReduce reduce) { return reduce == HeatMapReduce::Max ? "max" : "mean"; }

HeatMapAccumulator::HeatMapAccumulator(int64_t rows, int64_t cols, const HeatMapSpec& spec)
    : reduce_(spec.reduce), rows_(rows) {
    if (spec.max_rows < 1 || spec.max_cols < 1)
        throw Error("heat map", "cell grid " + std::to_string(spec.max_rows) + " x " + std::to_string(spec.max_cols) +
                                    " is empty");
    row_edges_ = block_edges(rows, spec.max_rows);
    col_edges_ = block_edges(cols, spec.max_cols);
    cells_.assign(size_t((row_edges_.size() - 1) * (col_edges_.size() - 1)), 0.0);
}

void HeatMapAccumulator::add_row(int64_t row, const float* values) {
    const int64_t cell_rows = int64_t(row_edges_.size()) - 1, cell_cols = int64_t(col_edges_.size()) - 1;
    // The last cell row i with row_edges[i] <= row, i.e. floor(((row + 1) * cell_rows - 1) / rows).
    const int64_t cell_row = ((row + 1) * cell_rows - 1) / rows_;
    double* cells = cells_.data() + cell_row * cell_cols;
    for (int64_t j = 0; j < cell_cols; ++j) {
        const float* block = values + col_edges_[size_t(j)];
        const int64_t width = col_edges_[size_t(j) + 1] - col_edges_[size_t(j)];
        if (reduce_ == HeatMapReduce::Max)
            cells[j] = std::max(cells[j], double(kernels::abs_max(block, width)));
        else
            cells[j] += kernels::abs_sum(block, width);
    }
}

void HeatMapAccumulator::merge(const HeatMapAccumulator& other) {
    for (size_t i = 0; i < cells_.size(); ++i)
        cells_[i] = reduce_ == HeatMapReduce::Max ? std::max(cells_[i], other.cells_[i]) : cells_[i] + other.cells_[i];
}

HeatMap HeatMapAccumulator::result() const {
    HeatMap map{reduce_, row_edges_, col_edges_, std::vector<float>(cells_.size())};
    const int64_t cell_cols = map.cell_cols();
    for (int64_t i = 0; i < map.cell_rows(); ++i)
        for (int64_t j = 0; j < cell_cols; ++j) {
            const double value = cells_[size_t(i * cell_cols + j)];
            const double area = double((row_edges_[size_t(i) + 1] - row_edges_[size_t(i)]) *
                                       (col_edges_[size_t(j) + 1] - col_edges_[size_t(j)]));
            map.cells[size_t(i * cell_cols + j)] = float(reduce_ == HeatMapReduce::Max ? value : value / area);
        }
    return map;
}

}  // namespace qb
