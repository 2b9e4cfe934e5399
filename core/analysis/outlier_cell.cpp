#include "core/analysis/outlier_cell.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/util/error.h"

namespace qb {

HeatMapCellRange heat_map_cell(const HeatMap& map, int64_t cell_row, int64_t cell_col) {
    if (cell_row < 0 || cell_row >= map.cell_rows() || cell_col < 0 || cell_col >= map.cell_cols())
        throw Error("heat map", "cell " + std::to_string(cell_row) + "," + std::to_string(cell_col) + " outside the " +
                                    std::to_string(map.cell_rows()) + " x " + std::to_string(map.cell_cols()) + " cells");
    const size_t r = size_t(cell_row), c = size_t(cell_col);
    return {cell_row, cell_col, map.row_edges[r], map.row_edges[r + 1] - map.row_edges[r], map.col_edges[c],
            map.col_edges[c + 1] - map.col_edges[c]};
}

HeatMap heat_map_layout(int64_t rows, int64_t cols, const HeatMapSpec& spec) {
    return HeatMapAccumulator(rows, cols, spec).result();
}

MatrixBlock read_matrix_block(const TensorView& view, int64_t first_row, int64_t rows, int64_t first_col, int64_t cols) {
    MatrixBlock block;
    block.tensor = view.name;
    block.first_row = std::clamp<int64_t>(first_row, 0, view.rows());
    block.first_col = std::clamp<int64_t>(first_col, 0, view.cols());
    block.rows = std::clamp<int64_t>(rows, 0, view.rows() - block.first_row);
    block.cols = std::clamp<int64_t>(cols, 0, view.cols() - block.first_col);
    if (block.rows == 0 || block.cols == 0) throw Error(view.name, "no values in the requested rectangle");
    std::vector<float> full_rows(size_t(block.rows * view.cols()));
    view.read_rows(block.first_row, block.rows, full_rows.data());
    block.values.resize(size_t(block.rows * block.cols));
    for (int64_t r = 0; r < block.rows; ++r)
        std::copy_n(full_rows.begin() + r * view.cols() + block.first_col, block.cols, block.values.begin() + r * block.cols);
    block.max_abs_row = block.first_row;
    block.max_abs_col = block.first_col;
    for (int64_t r = 0; r < block.rows; ++r)
        for (int64_t c = 0; c < block.cols; ++c) {
            const float a = std::fabs(block.at(r, c));
            if (std::isfinite(a) && a > block.max_abs) {
                block.max_abs = a;
                block.max_abs_row = block.first_row + r;
                block.max_abs_col = block.first_col + c;
            }
        }
    return block;
}

MatrixBlock read_matrix_block(const TensorView& view, const HeatMapCellRange& cell) {
    MatrixBlock block = read_matrix_block(view, cell.first_row, cell.rows, cell.first_col, cell.cols);
    block.cell_row = cell.cell_row;
    block.cell_col = cell.cell_col;
    return block;
}

ActivationCell activation_cell(const ActivationStats& stats, int64_t cell_row, int64_t cell_col) {
    ActivationCell cell;
    cell.record = stats.record;
    cell.range = heat_map_cell(stats.token_map, cell_row, cell_col);
    cell.max_abs = stats.token_map.at(cell_row, cell_col);
    for (int64_t c = cell.range.first_row; c < cell.range.first_row + cell.range.rows; ++c) {
        const size_t i = size_t(c);
        cell.channels.push_back({c, i < stats.abs_max.size() ? stats.abs_max[i] : 0.0f,
                                 i < stats.mean_abs.size() ? stats.mean_abs[i] : 0.0,
                                 i < stats.mean_sq.size() ? stats.mean_sq[i] : 0.0,
                                 i < stats.outlier_tokens.size() ? stats.outlier_tokens[i] : 0});
    }
    return cell;
}

nlohmann::json to_json(const MatrixBlock& b) {
    nlohmann::json values = nlohmann::json::array();
    for (int64_t r = 0; r < b.rows; ++r)
        values.push_back(std::vector<float>(b.values.begin() + r * b.cols, b.values.begin() + (r + 1) * b.cols));
    return {{"tensor", b.tensor},
            {"cell", {b.cell_row, b.cell_col}},
            {"rows", {b.first_row, b.rows}},
            {"cols", {b.first_col, b.cols}},
            {"values", std::move(values)},
            {"max_abs", b.max_abs},
            {"max_abs_at", {b.max_abs_row, b.max_abs_col}}};
}

nlohmann::json to_json(const ActivationCell& cell) {
    nlohmann::json channels = nlohmann::json::array();
    for (const ChannelSummary& c : cell.channels)
        channels.push_back({{"channel", c.channel},
                            {"abs_max", c.abs_max},
                            {"mean_abs", c.mean_abs},
                            {"mean_sq", c.mean_sq},
                            {"outlier_tokens", c.outlier_tokens}});
    return {{"record", cell.record},
            {"cell", {cell.range.cell_row, cell.range.cell_col}},
            {"channels", {cell.range.first_row, cell.range.rows}},
            {"tokens", {cell.range.first_col, cell.range.cols}},
            {"max_abs", cell.max_abs},
            {"channel_stats", std::move(channels)}};
}

}  // namespace qb
