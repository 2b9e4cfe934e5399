#include "core/analysis/moments.h"

#include <cmath>

#include "core/analysis/kernels.h"

namespace qb {
void MomentAccumulator::add(std::span<const float> values) {
    if (values.empty()) return;
    const int64_t n = int64_t(values.size());
    const kernels::SumMinMax range = kernels::sum_min_max(values.data(), n);
    Partial chunk;
    chunk.n = double(n);
    chunk.mean = range.sum / chunk.n;
    chunk.min = range.min;
    chunk.max = range.max;
    const kernels::CentralSums c = kernels::central_sums(values.data(), n, chunk.mean);
    chunk.m2 = c.m2;
    chunk.m3 = c.m3;
    chunk.m4 = c.m4;
    combine(chunk);
}

void MomentAccumulator::merge(const MomentAccumulator& other) { combine(other.total_); }

// Pébay, "Formulas for robust, one-pass parallel computation of covariances and arbitrary-order
// statistical moments" (Sandia SAND2008-6212), eqs. 2.1-2.3 for orders 2-4.
void MomentAccumulator::combine(const Partial& b) {
    if (b.n == 0) return;
    Partial& a = total_;
    if (a.n == 0) {
        a = b;
        return;
    }
    const double n = a.n + b.n;
    const double delta = b.mean - a.mean, delta_n = delta / n, delta_n2 = delta_n * delta_n;
    const double cross = delta * delta_n * a.n * b.n;  // δ² n_a n_b / n
    const double m4 = a.m4 + b.m4 + cross * delta_n2 * (a.n * a.n - a.n * b.n + b.n * b.n) +
                      6.0 * delta_n2 * (a.n * a.n * b.m2 + b.n * b.n * a.m2) + 4.0 * delta_n * (a.n * b.m3 - b.n * a.m3);
    const double m3 = a.m3 + b.m3 + cross * delta_n * (a.n - b.n) + 3.0 * delta_n * (a.n * b.m2 - b.n * a.m2);
    a.m2 += b.m2 + cross;
    a.m3 = m3;
    a.m4 = m4;
    a.mean += b.n * delta_n;
    a.n = n;
    a.min = std::min(a.min, b.min);
    a.max = std::max(a.max, b.max);
}

Moments MomentAccumulator::result() const {
    Moments m;
    m.count = int64_t(total_.n);
    if (m.count == 0) return m;
    m.min = total_.min;
    m.max = total_.max;
    m.mean = total_.mean;
    m.variance = total_.m2 / total_.n;
    m.std = std::sqrt(m.variance);
    if (total_.m2 > 0) {
        m.skewness = std::sqrt(total_.n) * total_.m3 / std::pow(total_.m2, 1.5);
        m.excess_kurtosis = total_.n * total_.m4 / (total_.m2 * total_.m2) - 3.0;
    }
    return m;
}

}  // namespace qb
