#include "core/analysis/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/analysis/kernels.h"
#include "core/util/error.h"

namespace qb {
namespace {

std::vector<double> make_edges(HistogramScale scale, int bins, double lo, double hi) {
    std::vector<double> edges(size_t(bins) + 1);
    for (int i = 0; i <= bins; ++i) {
        const double f = double(i) / bins;
        edges[size_t(i)] = scale == HistogramScale::Linear ? lo + (hi - lo) * f : lo * std::pow(hi / lo, f);
    }
    edges.front() = lo;  // exact ends, whatever pow rounded to
    edges.back() = hi;
    return edges;
}

// Guesses only need to be close, but converting a double beyond the float range is undefined.
float clamped_to_float(double v) {
    constexpr double kMax = std::numeric_limits<float>::max();
    return float(std::clamp(v, -kMax, kMax));
}

}  // namespace

std::string_view histogram_scale_name(HistogramScale scale) {
    return scale == HistogramScale::Linear ? "linear" : "log_abs";
}

Histogram HistogramAccumulator::result() const {
    Histogram h = histogram_;
    for (size_t bin = 0; bin < h.counts.size(); ++bin)
        for (int lane = 0; lane < kCountLanes; ++lane) h.counts[bin] += lane_counts_[bin * kCountLanes + size_t(lane)];
    return h;
}

uint64_t Histogram::total() const {
    uint64_t sum = underflow + overflow;
    for (uint64_t c : counts) sum += c;
    return sum;
}

void validate_histogram_bins(int bins) {
    if (bins < 1) throw Error("histogram", "bin count " + std::to_string(bins) + " is not positive");
}

void validate_histogram_range(HistogramScale scale, double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
        throw Error("histogram", "range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is not a finite interval");
    if (scale == HistogramScale::LogAbs && !(lo > 0))
        throw Error("histogram", "a log |w| histogram needs a positive lower bound, got " + std::to_string(lo));
}

HistogramAccumulator::HistogramAccumulator(HistogramScale scale, int bins, double lo, double hi, bool log_counts) {
    validate_histogram_bins(bins);
    validate_histogram_range(scale, lo, hi);
    histogram_.scale = scale;
    histogram_.edges = make_edges(scale, bins, lo, hi);
    histogram_.counts.assign(size_t(bins), 0);
    lane_counts_.assign(size_t(bins) * kCountLanes, 0);
    histogram_.log_counts = log_counts;
    index_origin_ = scale == HistogramScale::Linear ? lo : std::log2(lo);
    index_scale_ = bins / (scale == HistogramScale::Linear ? hi - lo : std::log2(hi) - std::log2(lo));
    for (int b = 0; b < bins; ++b) {
        certain_lo_.push_back(kernels::float_at_or_above(histogram_.edges[size_t(b)]));
        const double upper = histogram_.edges[size_t(b) + 1];
        certain_hi_.push_back(b + 1 < bins ? kernels::float_below(upper) : kernels::float_at_or_below(upper));
    }
}

void HistogramAccumulator::add(std::span<const float> values) {
    const int64_t n = int64_t(values.size());
    const int32_t last_bin = int32_t(histogram_.counts.size()) - 1;
    const float origin = clamped_to_float(index_origin_), scale = clamped_to_float(index_scale_);
    guess_.resize(values.size());
    const bool linear = histogram_.scale == HistogramScale::Linear;
    if (linear)
        kernels::guess_bins_linear(values.data(), n, origin, scale, last_bin, guess_.data());
    else
        kernels::guess_bins_log2_abs(values.data(), n, origin, scale, last_bin, guess_.data());
    const float* lo = certain_lo_.data();
    const float* hi = certain_hi_.data();
    uint64_t* counts = lane_counts_.data();
    for (int64_t i = 0; i < n; ++i) {
        const float x = values[size_t(i)], v = linear ? x : std::fabs(x);
        const int32_t bin = guess_[size_t(i)];
        if (v >= lo[bin] && v <= hi[bin])
            ++counts[bin * kCountLanes + (i & (kCountLanes - 1))];
        else
            add_exactly(x);
    }
}

void HistogramAccumulator::add_exactly(float x) {
    const std::vector<double>& edges = histogram_.edges;
    const double v = histogram_.scale == HistogramScale::Linear ? double(x) : std::fabs(double(x));
    if (v < edges.front()) {
        ++histogram_.underflow;
        return;
    }
    if (v > edges.back()) {
        ++histogram_.overflow;
        return;
    }
    const double coordinate = histogram_.scale == HistogramScale::Linear ? v : std::log2(v);
    const int64_t last_bin = int64_t(histogram_.counts.size()) - 1;
    int64_t bin = int64_t(std::clamp((coordinate - index_origin_) * index_scale_, 0.0, double(last_bin)));
    while (v < edges[size_t(bin)]) --bin;
    while (bin < last_bin && v >= edges[size_t(bin) + 1]) ++bin;
    ++lane_counts_[size_t(bin * kCountLanes)];
}

void HistogramAccumulator::merge(const HistogramAccumulator& other) {
    if (other.histogram_.edges != histogram_.edges) throw Error("histogram", "cannot merge histograms with different bins");
    for (size_t i = 0; i < lane_counts_.size(); ++i) lane_counts_[i] += other.lane_counts_[i];
    histogram_.underflow += other.histogram_.underflow;
    histogram_.overflow += other.histogram_.overflow;
}

}  // namespace qb
