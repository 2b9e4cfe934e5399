#include "core/infer/forward_kernels.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>

// The row loops below vectorise; full-width AVX-512 vectors halve their cost on CPUs that have them
// (a tuning preference only: other targets are unaffected).
#pragma GCC target("prefer-vector-width=512")

namespace qb {
namespace {

// Partial sums run in this many independent lanes so GCC can vectorise the reductions without
// reassociating floating-point operations behind our back.
constexpr int64_t kLanes = kRowMultiple;

// exp(x) within 1.4 ulp (Cephes' expf: Cody-Waite reduction by ln 2, degree-6 polynomial), branch-free
// so loops over it vectorise, unlike calls into libm. Results below e^-80 are flushed to zero: softmax
// weights that small would otherwise become subnormal after normalisation, and subnormal arithmetic
// costs a hundred cycles per value on x86 (far-away keys of peaked attention rows produce many).
inline float fast_exp(float x) {
    const float clamped = std::min(std::max(x, -80.0f), 88.0f);
    const float k = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    const float r = (clamped - k * 0.693359375f) - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float exp_r = p * r * r + r + 1.0f;
    const float value = exp_r * std::bit_cast<float>((int32_t(k) + 127) << 23);
    return x < -80.0f ? 0.0f : value;
}

// Maps a float's bits to an integer of the same order (negative floats reversed), so the maximum is an
// integer maximum: GCC vectorises that, but not a float maximum without -ffinite-math-only.
inline int32_t order_preserving(int32_t bits) { return bits ^ ((bits >> 31) & 0x7fffffff); }

float max_value(const float* x, int64_t n) {
    int32_t max_key = INT32_MIN;
    for (int64_t j = 0; j < n; ++j) max_key = std::max(max_key, order_preserving(std::bit_cast<int32_t>(x[j])));
    return std::bit_cast<float>(order_preserving(max_key));  // the mapping is its own inverse
}

double lane_sum(const float* x, int64_t n) {
    float lanes[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += x[j + l];
    double sum = 0;
    for (; j < n; ++j) sum += x[j];
    for (float lane : lanes) sum += lane;
    return sum;
}

}  // namespace

void normalize_row(NormKind kind, const float* x, int64_t n, const float* weight, const float* bias, double eps,
                   float* y) {
    double mean = 0;
    if (kind == NormKind::Layer) {
        for (int64_t i = 0; i < n; ++i) mean += x[i];
        mean /= double(n);
    }
    double sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) sum_sq += (x[i] - mean) * (x[i] - mean);
    const float scale = float(1.0 / std::sqrt(sum_sq / double(n) + eps));
    const float shift = float(mean);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - shift) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void activate(Activation kind, float* x, int64_t n) {
    switch (kind) {
        case Activation::SiluGated:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + fast_exp(-x[i]));
            return;
        case Activation::GeluTanh:
            // 0.5·x·(1 + tanh(u)) = x · (1 - 1 / (exp(2u) + 1))
            for (int64_t i = 0; i < n; ++i) {
                const float u = 0.7978845608028654f * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
                x[i] = x[i] * (1.0f - 1.0f / (fast_exp(2.0f * u) + 1.0f));
            }
            return;
        case Activation::GeluErf:
            for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
            return;
    }
}

void activate_gated(const float* gate, float* up, int64_t n) {
    for (int64_t i = 0; i < n; ++i) up[i] *= gate[i] / (1.0f + fast_exp(-gate[i]));
}

void scaled_softmax(float* x, int64_t n, float scale) {
    for (int64_t j = 0; j < n; ++j) x[j] *= scale;
    const float max_x = max_value(x, n);
    for (int64_t j = 0; j < n; ++j) x[j] = fast_exp(x[j] - max_x);
    const float inverse = float(1.0 / lane_sum(x, n));
    for (int64_t j = 0; j < n; ++j) x[j] *= inverse;
}

void weighted_column_sum(const float* weights, int64_t count, const float* columns, int64_t stride, int64_t width,
                         float* out) {
    for (int64_t d = 0; d < width; ++d) {
        const float* column = columns + d * stride;
        float lanes[kLanes] = {};
        int64_t j = 0;
        for (; j + kLanes <= count; j += kLanes)
            for (int64_t l = 0; l < kLanes; ++l) lanes[l] += weights[j + l] * column[j + l];
        double sum = 0;
        for (; j < count; ++j) sum += weights[j] * column[j];
        for (float lane : lanes) sum += lane;
        out[d] = float(sum);
    }
}

Rotary::Rotary(int64_t positions, int64_t dims, double theta, bool adjacent_pairs)
    : dims_(dims), adjacent_pairs_(adjacent_pairs) {
    const int64_t pairs = dims / 2;
    cos_.resize(size_t(positions * pairs));
    sin_.resize(cos_.size());
    for (int64_t p = 0; p < positions; ++p)
        for (int64_t i = 0; i < pairs; ++i) {
            const double angle = double(p) * std::pow(theta, -2.0 * double(i) / double(dims));
            cos_[size_t(p * pairs + i)] = float(std::cos(angle));
            sin_[size_t(p * pairs + i)] = float(std::sin(angle));
        }
}

void Rotary::apply(float* head, int64_t position) const {
    const int64_t pairs = dims_ / 2;
    const float* c = cos_.data() + position * pairs;
    const float* s = sin_.data() + position * pairs;
    // Pair i is (first[i * step], second[i * step]).
    const int64_t step = adjacent_pairs_ ? 2 : 1;
    float* first = head;
    float* second = adjacent_pairs_ ? head + 1 : head + pairs;
    for (int64_t i = 0; i < pairs; ++i) {
        const float a = first[i * step], b = second[i * step];
        first[i * step] = a * c[i] - b * s[i];
        second[i * step] = a * s[i] + b * c[i];
    }
}

}  // namespace qb
