#include "core/analysis/histogram.h"

#include <bit>
#include <cmath>
#include <string>

#include "core/util/error.h"

namespace qb {
namespace {

// log2 of a positive normal float to about 1e-4: exponent plus a polynomial in the mantissa. Only used
// to guess a bin; the exact bin is then settled against the edges.
inline float approx_log2(float a) {
    const uint32_t bits = std::bit_cast<uint32_t>(a);
    const float exponent = float(int32_t(bits >> 23) - 127);
    const float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    return exponent + (-1.7417939f + (2.8212026f + (-1.4699568f + (0.44717955f - 0.056570851f * m) * m) * m) * m);
}

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

}  // namespace

std::string_view histogram_scale_name(HistogramScale scale) {
    return scale == HistogramScale::Linear ? "linear" : "log_abs";
}

uint64_t Histogram::total() const {
    uint64_t sum = underflow + overflow;
    for (uint64_t c : counts) sum += c;
    return sum;
}

HistogramAccumulator::HistogramAccumulator(HistogramScale scale, int bins, double lo, double hi, bool log_counts) {
    if (bins < 1) throw Error("histogram", "bin count " + std::to_string(bins) + " is not positive");
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
        throw Error("histogram", "range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is not a finite interval");
    if (scale == HistogramScale::LogAbs && !(lo > 0))
        throw Error("histogram", "a log |w| histogram needs a positive lower bound, got " + std::to_string(lo));
    histogram_.scale = scale;
    histogram_.edges = make_edges(scale, bins, lo, hi);
    histogram_.counts.assign(size_t(bins), 0);
    histogram_.log_counts = log_counts;
    index_origin_ = scale == HistogramScale::Linear ? lo : std::log2(lo);
    index_scale_ = bins / (scale == HistogramScale::Linear ? hi - lo : std::log2(hi) - std::log2(lo));
}

void HistogramAccumulator::add(std::span<const float> values) {
    if (histogram_.scale == HistogramScale::Linear)
        add_scaled<HistogramScale::Linear>(values);
    else
        add_scaled<HistogramScale::LogAbs>(values);
}

template <HistogramScale Scale>
void HistogramAccumulator::add_scaled(std::span<const float> values) {
    const int64_t n = int64_t(values.size());
    guess_.resize(values.size());
    const float origin = float(index_origin_), scale = float(index_scale_);
    const float last_bin = float(histogram_.counts.size() - 1);
    const float* x = values.data();
    int32_t* guess = guess_.data();
    for (int64_t i = 0; i < n; ++i) {  // vectorised: no branches, no table lookups
        const float coordinate = Scale == HistogramScale::Linear ? x[i] : approx_log2(std::fabs(x[i]));
        float t = (coordinate - origin) * scale;
        t = t > 0 ? t : 0;
        t = t < last_bin ? t : last_bin;
        guess[i] = int32_t(t);
    }
    const double* edges = histogram_.edges.data();
    const double lo = edges[0], hi = histogram_.edges.back();
    const int32_t bins = int32_t(histogram_.counts.size());
    uint64_t* counts = histogram_.counts.data();
    for (int64_t i = 0; i < n; ++i) {
        const double v = Scale == HistogramScale::Linear ? double(x[i]) : std::fabs(double(x[i]));
        int32_t b = guess[i];
        if (v < edges[b]) {
            if (v < lo) {
                ++histogram_.underflow;
                continue;
            }
            do --b;
            while (v < edges[b]);
        } else if (v >= edges[b + 1]) {
            if (v > hi) {
                ++histogram_.overflow;
                continue;
            }
            while (b + 1 < bins && v >= edges[b + 1]) ++b;
        }
        ++counts[b];
    }
}

void HistogramAccumulator::merge(const HistogramAccumulator& other) {
    if (other.histogram_.edges != histogram_.edges) throw Error("histogram", "cannot merge histograms with different bins");
    for (size_t i = 0; i < histogram_.counts.size(); ++i) histogram_.counts[i] += other.histogram_.counts[i];
    histogram_.underflow += other.histogram_.underflow;
    histogram_.overflow += other.histogram_.overflow;
}

}  // namespace qb
