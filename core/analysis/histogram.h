// Histograms of a stream of finite values with exact bin membership.
// Linear: bins of equal width over the values w in [lo, hi]. LogAbs: bins of equal width in log |w| over
// [lo, hi] (lo > 0), the view that shows outliers and the small-magnitude tail.
// Bin i holds edges[i] <= v < edges[i+1]; the last bin also holds v == hi. Values below lo count as
// underflow, above hi as overflow (for LogAbs, zeros are underflow). Membership is decided by comparing
// against the stored double edges, so a brute-force count with the same edges gives identical counts.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace qb {

enum class HistogramScale {
    Linear,  // of w, equal-width bins
    LogAbs   // of |w|, log-spaced bins
};
std::string_view histogram_scale_name(HistogramScale scale);  // "linear", "log_abs"

struct Histogram {
    HistogramScale scale = HistogramScale::Linear;
    std::vector<double> edges;     // bins + 1 ascending edges
    std::vector<uint64_t> counts;  // one per bin
    uint64_t underflow = 0;        // values below edges.front()
    uint64_t overflow = 0;         // values above edges.back()
    bool log_counts = false;       // display hint: draw counts on a log axis (counts are always raw)

    uint64_t total() const;  // counts + underflow + overflow
};

// Throw Error("histogram", ...) unless bins >= 1; unless lo < hi, both finite, and lo > 0 for LogAbs.
void validate_histogram_bins(int bins);
void validate_histogram_range(HistogramScale scale, double lo, double hi);

class HistogramAccumulator {
public:
    // Throws like validate_histogram_bins and validate_histogram_range.
    HistogramAccumulator(HistogramScale scale, int bins, double lo, double hi, bool log_counts = false);

    void add(std::span<const float> values);  // finite values only
    void merge(const HistogramAccumulator& other);
    Histogram result() const;

private:
    void add_exactly(float x);  // by comparison with the edges

    Histogram histogram_;  // edges, underflow and overflow; counts are folded in from lane_counts_
    // kCountLanes interleaved copies of the counts: consecutive values in the same bin (common when a
    // few outliers stretch the range) then increment different memory, not one serial chain.
    static constexpr int kCountLanes = 4;
    std::vector<uint64_t> lane_counts_;
    double index_origin_ = 0;  // lo (Linear) or log2(lo) (LogAbs)
    double index_scale_ = 0;   // bins per unit of value or of log2
    // Per bin, the float interval [certain_lo_, certain_hi_] of values that belong to it for certain: a
    // guessed bin is accepted when the value falls inside, else the value is settled against the edges.
    std::vector<float> certain_lo_, certain_hi_;
    std::vector<int32_t> guess_;  // scratch: guessed bin per value
};

}  // namespace qb
