#include "core/analysis/channel_stats.h"

#include <algorithm>
#include <numeric>

#include "core/analysis/kernels.h"

namespace qb {
std::vector<ChannelOutlier> top_channels(const std::vector<float>& absmax, int k) {
    std::vector<int64_t> order(absmax.size());
    std::iota(order.begin(), order.end(), 0);
    const auto take = order.begin() + std::min<int64_t>(std::max(k, 0), int64_t(order.size()));
    std::partial_sort(order.begin(), take, order.end(), [&](int64_t a, int64_t b) {
        return absmax[size_t(a)] > absmax[size_t(b)] || (absmax[size_t(a)] == absmax[size_t(b)] && a < b);
    });
    std::vector<ChannelOutlier> top;
    for (auto it = order.begin(); it != take; ++it) top.push_back({*it, absmax[size_t(*it)]});
    return top;
}

ChannelAbsMaxAccumulator::ChannelAbsMaxAccumulator(int64_t rows, int64_t cols)
    : row_absmax_(size_t(rows), 0.0f), col_absmax_(size_t(cols), 0.0f) {}

void ChannelAbsMaxAccumulator::add_row(int64_t row, const float* values) {
    const int64_t cols = int64_t(col_absmax_.size());
    row_absmax_[size_t(row)] = std::max(row_absmax_[size_t(row)], kernels::abs_max(values, cols));
    kernels::abs_max_into(col_absmax_.data(), values, cols);
}

void ChannelAbsMaxAccumulator::merge(const ChannelAbsMaxAccumulator& other) {
    // absmax values are non-negative, so max of |v| is max of v
    kernels::abs_max_into(row_absmax_.data(), other.row_absmax_.data(), int64_t(row_absmax_.size()));
    kernels::abs_max_into(col_absmax_.data(), other.col_absmax_.data(), int64_t(col_absmax_.size()));
}

ChannelAbsMax ChannelAbsMaxAccumulator::result(int top_k) const {
    return {row_absmax_, col_absmax_, top_channels(row_absmax_, top_k), top_channels(col_absmax_, top_k)};
}

}  // namespace qb
