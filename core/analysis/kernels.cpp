#include "core/analysis/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace qb::kernels {
namespace {

using f32x8 = float __attribute__((vector_size(32)));
using f64x4 = double __attribute__((vector_size(32)));
using i32x8 = int32_t __attribute__((vector_size(32)));
constexpr int64_t kWidth = 8;

f32x8 load(const float* p) {
    f32x8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
f32x8 splat(float v) { return f32x8{} + v; }
f32x8 vabs(f32x8 v) { return (f32x8)((i32x8)v & 0x7fffffff); }
// max/min that keep the first operand when the second is NaN, like maxps/minps
f32x8 vmax(f32x8 a, f32x8 b) { return b > a ? b : a; }
f32x8 vmin(f32x8 a, f32x8 b) { return b < a ? b : a; }
f64x4 low_half(f32x8 v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), f64x4); }
f64x4 high_half(f32x8 v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), f64x4); }

// log2 of each |x| from its exponent and a polynomial for ln of the mantissa (max error 8.9e-5 for normal
// floats; zeros and subnormals come out near -127).
f32x8 approx_log2_abs(f32x8 x) {
    const i32x8 bits = (i32x8)x & 0x7fffffff;
    const f32x8 exponent = __builtin_convertvector((bits >> 23) - 127, f32x8);
    const f32x8 m = (f32x8)((bits & 0x007fffff) | 0x3f800000);  // mantissa in [1, 2)
    const f32x8 ln_m = -1.7417939f + (2.8212026f + (-1.4699568f + (0.44717955f - 0.056570851f * m) * m) * m) * m;
    return exponent + 1.44269504f * ln_m;
}

double lane_sum(f64x4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
float lane_max(f32x8 v) {
    float m = v[0];
    for (int l = 1; l < kWidth; ++l) m = std::max(m, v[l]);
    return m;
}
float lane_min(f32x8 v) {
    float m = v[0];
    for (int l = 1; l < kWidth; ++l) m = std::min(m, v[l]);
    return m;
}

template <typename Coordinate>
void guess_bins(const float* x, int64_t n, float origin, float scale, int32_t last_bin, int32_t* bins,
                Coordinate coordinate) {
    const float last = float(last_bin);
    auto guess = [&](f32x8 v) {
        f32x8 t = (coordinate(v) - origin) * scale;
        t = t > 0.0f ? t : f32x8{};
        t = t < last ? t : f32x8{} + last;
        return __builtin_convertvector(t, i32x8);
    };
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) {
        const i32x8 b = guess(load(x + i));
        std::memcpy(bins + i, &b, sizeof b);
    }
    for (; i < n; ++i) bins[i] = guess(splat(x[i]))[0];
}

}  // namespace

SumMinMax sum_min_max(const float* x, int64_t n) {
    f64x4 sum_lo{}, sum_hi{};
    f32x8 lo = splat(x[0]), hi = lo;
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) {
        const f32x8 v = load(x + i);
        sum_lo += low_half(v);
        sum_hi += high_half(v);
        lo = vmin(lo, v);
        hi = vmax(hi, v);
    }
    SumMinMax r{lane_sum(sum_lo) + lane_sum(sum_hi), lane_min(lo), lane_max(hi)};
    for (; i < n; ++i) {
        r.sum += double(x[i]);
        r.min = std::min(r.min, x[i]);
        r.max = std::max(r.max, x[i]);
    }
    return r;
}

CentralSums central_sums(const float* x, int64_t n, double mean) {
    f64x4 s2{}, s3{}, s4{};
    const f64x4 m = f64x4{} + mean;
    auto accumulate = [&](f64x4 d) {
        const f64x4 d2 = d * d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    };
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) {
        const f32x8 v = load(x + i);
        accumulate(low_half(v) - m);
        accumulate(high_half(v) - m);
    }
    CentralSums c{lane_sum(s2), lane_sum(s3), lane_sum(s4)};
    for (; i < n; ++i) {
        const double d = double(x[i]) - mean, d2 = d * d;
        c.m2 += d2;
        c.m3 += d2 * d;
        c.m4 += d2 * d2;
    }
    return c;
}

float abs_max(const float* x, int64_t n) {
    f32x8 m{};
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) m = vmax(m, vabs(load(x + i)));
    float r = lane_max(m);
    for (; i < n; ++i) r = std::max(r, std::fabs(x[i]));
    return r;
}

double abs_sum(const float* x, int64_t n) {
    f64x4 s_lo{}, s_hi{};
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) {
        const f32x8 a = vabs(load(x + i));
        s_lo += low_half(a);
        s_hi += high_half(a);
    }
    double r = lane_sum(s_lo) + lane_sum(s_hi);
    for (; i < n; ++i) r += double(std::fabs(x[i]));
    return r;
}

void abs_max_into(float* target, const float* x, int64_t n) {
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) {
        const f32x8 m = vmax(load(target + i), vabs(load(x + i)));
        std::memcpy(target + i, &m, sizeof m);
    }
    for (; i < n; ++i) target[i] = std::max(target[i], std::fabs(x[i]));
}

bool all_finite(const float* x, int64_t n) {
    const i32x8 exponent_mask = i32x8{} + 0x7f800000;
    i32x8 bad{};
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) bad |= ((i32x8)load(x + i) & exponent_mask) == exponent_mask;
    bool finite = true;
    for (int l = 0; l < kWidth; ++l) finite &= bad[l] == 0;
    for (; i < n; ++i) finite &= std::isfinite(x[i]);
    return finite;
}

void guess_bins_linear(const float* x, int64_t n, float origin, float scale, int32_t last_bin, int32_t* bins) {
    guess_bins(x, n, origin, scale, last_bin, bins, [](f32x8 v) { return v; });
}

void guess_bins_log2_abs(const float* x, int64_t n, float origin, float scale, int32_t last_bin, int32_t* bins) {
    guess_bins(x, n, origin, scale, last_bin, bins, approx_log2_abs);
}

int64_t count_abs_above(const float* x, int64_t n, float threshold) {
    const f32x8 t = splat(threshold);
    i32x8 count{};
    int64_t i = 0;
    for (; i + kWidth <= n; i += kWidth) count -= vabs(load(x + i)) > t;  // true lanes are -1
    int64_t r = 0;
    for (int l = 0; l < kWidth; ++l) r += count[l];
    for (; i < n; ++i) r += std::fabs(x[i]) > threshold;
    return r;
}

float float_at_or_above(double t) {
    constexpr float kMax = std::numeric_limits<float>::max(), kInf = std::numeric_limits<float>::infinity();
    if (t <= -kMax) return -kMax;
    if (t > kMax) return kInf;
    const float f = float(t);
    return double(f) < t ? std::nextafter(f, kInf) : f;
}

float float_at_or_below(double t) {
    constexpr float kMax = std::numeric_limits<float>::max(), kInf = std::numeric_limits<float>::infinity();
    if (t >= kMax) return kMax;
    if (t < -kMax) return -kInf;
    const float f = float(t);
    return double(f) > t ? std::nextafter(f, -kInf) : f;
}

float float_below(double t) {
    constexpr float kMax = std::numeric_limits<float>::max(), kInf = std::numeric_limits<float>::infinity();
    if (t > kMax) return kMax;
    if (t <= -kMax) return -kInf;
    const float f = float(t);
    return double(f) >= t ? std::nextafter(f, -kInf) : f;
}

}  // namespace qb::kernels
