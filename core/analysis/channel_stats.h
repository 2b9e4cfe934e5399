// The outlier-map data of a weight matrix: max |w| of every output channel (row) and every input channel
// (column), and the k channels with the largest absmax in each direction.
#pragma once
#include <cstdint>
#include <vector>

namespace qb {

struct ChannelOutlier {
    int64_t index = 0;  // row or column
    float absmax = 0;
};

struct ChannelAbsMax {
    std::vector<float> rows;  // per output channel
    std::vector<float> cols;  // per input channel
    std::vector<ChannelOutlier> top_rows;  // largest first; ties: lower index first
    std::vector<ChannelOutlier> top_cols;
};

// The k largest entries of absmax (fewer when absmax is shorter), largest first, ties by lower index.
std::vector<ChannelOutlier> top_channels(const std::vector<float>& absmax, int k);

class ChannelAbsMaxAccumulator {
public:
    ChannelAbsMaxAccumulator(int64_t rows, int64_t cols);
    void add_row(int64_t row, const float* values);  // `cols` values; NaN never wins a max
    void merge(const ChannelAbsMaxAccumulator& other);
    ChannelAbsMax result(int top_k) const;

private:
    std::vector<float> row_absmax_;
    std::vector<float> col_absmax_;
};

}  // namespace qb
