// The values behind one cell of an outlier map (heat_map.h), for the GUI's click on a cell and
// `quantbench-cli stats --cell ROW,COL`:
//   - weights: the block of the matrix the cell covers, decoded from the tensor's storage (rows × cols
//     values, row-major), with the position of its largest |w| (the cell's value for a max map);
//   - activations (calibration.h's channels × tokens map): the channel and token ranges, the cell's
//     max |x| and, per channel of the range, the summaries the calibration keeps (absmax, mean |x|,
//     mean x², tokens above the outlier threshold). The calibration keeps no raw activations, so these
//     are the finest values there are.
//
// JSON form (to_json): weights {tensor, cell [row, col], rows [first, count], cols [first, count],
//   values [[..] per row], max_abs, max_abs_at [row, col]}; activations {record, cell [row, col],
//   channels [first, count], tokens [first, count], max_abs, channel_stats [{channel, abs_max, mean_abs,
//   mean_sq, outlier_tokens}]}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/analysis/calibration.h"
#include "core/analysis/heat_map.h"
#include "core/tensor/tensor_view.h"

namespace qb {

struct HeatMapCellRange {
    int64_t cell_row = 0, cell_col = 0;
    int64_t first_row = 0, rows = 0;  // matrix rows (or channels) the cell covers
    int64_t first_col = 0, cols = 0;  // matrix columns (or tokens)
};

// Throws Error("heat map", ...) for a cell outside the map.
HeatMapCellRange heat_map_cell(const HeatMap& map, int64_t cell_row, int64_t cell_col);
// The edges a rows × cols matrix gets under `spec` (HeatMapAccumulator's), without reading any value.
HeatMap heat_map_layout(int64_t rows, int64_t cols, const HeatMapSpec& spec);

struct MatrixBlock {
    std::string tensor;
    int64_t cell_row = -1, cell_col = -1;  // the heat-map cell it was read for, -1 when none
    int64_t first_row = 0, first_col = 0;
    int64_t rows = 0, cols = 0;
    std::vector<float> values;  // rows × cols, row-major
    float max_abs = 0;          // largest finite |w|
    int64_t max_abs_row = 0, max_abs_col = 0;  // its matrix position (the first one)

    float at(int64_t row, int64_t col) const { return values[size_t(row * cols + col)]; }
};

// Rows [first_row, first_row + rows) × columns [first_col, first_col + cols), clipped to the matrix;
// throws Error naming the tensor when the clipped rectangle is empty.
MatrixBlock read_matrix_block(const TensorView& view, int64_t first_row, int64_t rows, int64_t first_col, int64_t cols);
MatrixBlock read_matrix_block(const TensorView& view, const HeatMapCellRange& cell);

struct ChannelSummary {
    int64_t channel = 0;
    float abs_max = 0;
    double mean_abs = 0;
    double mean_sq = 0;
    int64_t outlier_tokens = 0;
};

struct ActivationCell {
    std::string record;
    HeatMapCellRange range;  // rows: channels, cols: tokens
    float max_abs = 0;       // the map's cell (max |x| over the block)
    std::vector<ChannelSummary> channels;
};

// Throws Error("heat map", ...) for a cell outside the record's token map.
ActivationCell activation_cell(const ActivationStats& stats, int64_t cell_row, int64_t cell_col);

nlohmann::json to_json(const MatrixBlock& block);
nlohmann::json to_json(const ActivationCell& cell);

}  // namespace qb
