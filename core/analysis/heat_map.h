// A down-sampled |w| map of a rows x cols matrix for heat-map display: at most max_rows x max_cols cells,
// each the max or the mean of |w| over its block. Blocks tile the matrix as evenly as integers allow:
// cell row i covers matrix rows [row_edges[i], row_edges[i+1]) with row_edges[i] = floor(i * rows / cells),
// so block heights differ by at most one (likewise for columns).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace qb {

enum class HeatMapReduce { Max, Mean };
std::string_view heat_map_reduce_name(HeatMapReduce reduce);  // "max", "mean"

struct HeatMapSpec {
    int64_t max_rows = 256;
    int64_t max_cols = 256;
    HeatMapReduce reduce = HeatMapReduce::Max;
};

struct HeatMap {
    HeatMapReduce reduce = HeatMapReduce::Max;
    std::vector<int64_t> row_edges;  // cell rows + 1 matrix row indices
    std::vector<int64_t> col_edges;  // cell cols + 1 matrix column indices
    std::vector<float> cells;        // cell rows x cell cols, row-major

    int64_t cell_rows() const { return int64_t(row_edges.size()) - 1; }
    int64_t cell_cols() const { return int64_t(col_edges.size()) - 1; }
    float at(int64_t cell_row, int64_t cell_col) const { return cells[size_t(cell_row * cell_cols() + cell_col)]; }
};

class HeatMapAccumulator {
public:
    // Throws Error("heat map", ...) unless max_rows and max_cols are positive.
    HeatMapAccumulator(int64_t rows, int64_t cols, const HeatMapSpec& spec);
    void add_row(int64_t row, const float* values);  // `cols` values
    void merge(const HeatMapAccumulator& other);
    HeatMap result() const;

private:
    HeatMapReduce reduce_;
    int64_t rows_;
    std::vector<int64_t> row_edges_, col_edges_;
    std::vector<double> cells_;  // running max, or running sum of |w| for Mean
};

}  // namespace qb
