// Random linear layers and calibration inputs for the algorithm tests and benchmarks (no Qt): weights
// like a trained layer's (gaussian, a few large outliers) and activations with LLM-like structure
// (channels of very different scale, correlated through a few shared factors), from which the Hessian
// H = XᵀX and the per-channel statistics are formed as calibration would.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace qbtest {

struct LayerCalibration {
    std::vector<double> hessian;      // cols x cols, Σ x xᵀ
    std::vector<double> mean_abs;     // per column
    std::vector<double> mean_square;  // per column
};

inline std::vector<float> random_weights(int64_t rows, int64_t cols, uint64_t seed, double stddev = 0.02) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, stddev);
    std::vector<float> w(size_t(rows * cols));
    for (float& v : w) v = float(normal(rng));
    for (size_t i = 0; i < w.size(); i += 997) w[i] *= 8;  // outliers
    return w;
}

// tokens x cols: x = (z + F·g) ⊙ c, z and g standard normal, F a cols x factors loading with entries of
// size 1/sqrt(factors), and per-channel scales c log-normal (σ = 1): some channels 10x larger than most.
inline std::vector<float> random_activations(int64_t tokens, int64_t cols, uint64_t seed, int64_t factors = 8) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> loading(size_t(cols * factors)), channel(static_cast<size_t>(cols));
    for (double& v : loading) v = normal(rng) * 1.5 / std::sqrt(double(factors));
    for (double& v : channel) v = std::exp(normal(rng));
    std::vector<float> x(size_t(tokens * cols));
    std::vector<double> g(static_cast<size_t>(factors));
    for (int64_t t = 0; t < tokens; ++t) {
        for (double& v : g) v = normal(rng);
        for (int64_t j = 0; j < cols; ++j) {
            double v = normal(rng);
            for (int64_t f = 0; f < factors; ++f) v += loading[size_t(j * factors + f)] * g[size_t(f)];
            x[size_t(t * cols + j)] = float(v * channel[size_t(j)]);
        }
    }
    return x;
}

// Accumulates x (rows x cols) into the calibration sums; finish with finish_calibration(tokens).
inline void accumulate_calibration(LayerCalibration& c, const float* x, int64_t rows, int64_t cols) {
    if (c.hessian.empty()) {
        c.hessian.assign(size_t(cols * cols), 0.0);
        c.mean_abs.assign(size_t(cols), 0.0);
        c.mean_square.assign(size_t(cols), 0.0);
    }
    for (int64_t t = 0; t < rows; ++t) {
        const float* xt = x + t * cols;
        for (int64_t i = 0; i < cols; ++i) {
            c.mean_abs[size_t(i)] += std::fabs(double(xt[i]));
            c.mean_square[size_t(i)] += double(xt[i]) * xt[i];
            for (int64_t j = 0; j < cols; ++j) c.hessian[size_t(i * cols + j)] += double(xt[i]) * xt[j];
        }
    }
}

inline void finish_calibration(LayerCalibration& c, int64_t tokens) {
    for (double& v : c.mean_abs) v /= double(tokens);
    for (double& v : c.mean_square) v /= double(tokens);
}

inline LayerCalibration calibration_of(const std::vector<float>& x, int64_t tokens, int64_t cols) {
    LayerCalibration c;
    accumulate_calibration(c, x.data(), tokens, cols);
    finish_calibration(c, tokens);
    return c;
}

// A correlated Hessian built in O(n²) for large layers: H_ij = σ_i σ_j ρ^|i-j| (positive definite for
// |ρ| < 1), σ log-normal as in random_activations.
inline std::vector<double> ar1_hessian(int64_t n, double rho, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> sigma(static_cast<size_t>(n)), h(size_t(n * n));
    for (double& v : sigma) v = std::exp(normal(rng));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            h[size_t(i * n + j)] = sigma[size_t(i)] * sigma[size_t(j)] * std::pow(rho, double(std::abs(i - j)));
    return h;
}

}  // namespace qbtest
