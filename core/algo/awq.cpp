#include "core/algo/awq.h"

#include <algorithm>
#include <cmath>

#include "core/algo/linalg.h"
#include "core/algo/options.h"
#include "core/algo/rtn.h"
#include "core/jobs/job.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr double kMinScale = 1e-4;  // AWQ's clamp: channels without activations keep a usable scale

struct Settings {
    int64_t grid_points = 20;
    double fixed_alpha = -1;  // < 0: search
    bool clip = false;
    int64_t search_rows = 1024;
};

Settings read_settings(const QuantizeRequest& r) {
    OptionReader options(r.options, "awq");
    Settings s;
    s.grid_points = options.integer("grid_points", 20, 2, 1000);
    s.fixed_alpha = options.number("alpha", -1, 0.0, 1.0);
    s.clip = options.flag("clip", false);
    s.search_rows = options.integer("search_rows", 1024, 0, int64_t(1) << 40);
    options.finish();
    return s;
}

std::vector<double> activation_magnitude(const QuantizeRequest& r) {
    if (!r.mean_abs.empty()) return {r.mean_abs.begin(), r.mean_abs.end()};
    std::vector<double> a(r.mean_square.size());
    std::transform(r.mean_square.begin(), r.mean_square.end(), a.begin(), [](double v) { return std::sqrt(v); });
    return a;
}

std::vector<float> channel_scales(const std::vector<double>& magnitude, double alpha) {
    std::vector<double> s(magnitude.size());
    std::transform(magnitude.begin(), magnitude.end(), s.begin(),
                   [&](double a) { return std::max(std::pow(a, alpha), kMinScale); });
    const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    const double norm = std::sqrt(*lo * *hi);
    std::vector<float> scales(s.size());
    std::transform(s.begin(), s.end(), scales.begin(), [&](double v) { return float(v / norm); });
    return scales;
}

// Q(W·diag(s)) in the format's bytes, and its values divided by s again.
QuantizeResult quantize_scaled(const FormatInfo& encoder, const float* w, int64_t rows, int64_t cols,
                               const std::vector<float>& s, const float* importance, int threads) {
    std::vector<float> scaled(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) scaled[size_t(r * cols + j)] = w[r * cols + j] * s[size_t(j)];
    QuantizeResult result;
    encode_and_decode(encoder, scaled.data(), rows, cols, importance, threads, result);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) result.dequantized[size_t(r * cols + j)] /= s[size_t(j)];
    return result;
}

// The rows the search measures on, and its objective Σ_r Δ_r H Δ_rᵀ.
class SearchSet {
public:
    SearchSet(const QuantizeRequest& r, int64_t max_rows) : r_(r) {
        rows_ = max_rows > 0 ? std::min(r.rows, max_rows) : r.rows;
        weight_.resize(size_t(rows_ * r.cols));
        for (int64_t k = 0; k < rows_; ++k) {
            const int64_t row = k * r.rows / rows_;
            std::copy_n(r.weight + row * r.cols, r.cols, weight_.begin() + k * r.cols);
        }
    }

    double error_with(const std::vector<float>& s) const {
        const QuantizeResult q =
            quantize_scaled(*r_.format, weight_.data(), rows_, r_.cols, s, importance(), r_.threads);
        std::vector<float> delta(weight_.size());
        for (size_t i = 0; i < delta.size(); ++i) delta[i] = q.dequantized[i] - weight_[i];
        if (!r_.hessian.empty())
            return hessian_weighted_error(delta.data(), rows_, r_.cols, r_.hessian.data(), r_.threads);
        double sum = 0;
        for (size_t i = 0; i < delta.size(); ++i)
            sum += r_.mean_square[i % size_t(r_.cols)] * double(delta[i]) * double(delta[i]);
        return sum;
    }

private:
    const float* importance() const { return r_.importance.empty() ? nullptr : r_.importance.data(); }

    const QuantizeRequest& r_;
    int64_t rows_ = 0;
    std::vector<float> weight_;
};

std::vector<float> scales_from_alpha(const QuantizeRequest& r, double alpha) {
    return channel_scales(activation_magnitude(r), alpha);
}

}  // namespace

AwqScales awq_shared_scales(std::span<const QuantizeRequest> layers) {
    if (layers.empty()) throw Error("awq", "no layers to scale");
    const QuantizeRequest& first = layers.front();
    for (const QuantizeRequest& r : layers)
        if (!r.format || !r.weight || r.cols != first.cols || r.mean_square.size() != size_t(first.cols))
            throw Error("awq", "layers sharing scales need a format, weights, the same input width (" +
                                   std::to_string(first.cols) + ") and mean x² per input channel");
    const Settings settings = read_settings(first);
    AwqScales result;
    result.errors = nlohmann::json::array();
    if (settings.fixed_alpha >= 0) {
        result.alpha = settings.fixed_alpha;
    } else {
        std::vector<SearchSet> sets;
        for (const QuantizeRequest& r : layers) sets.emplace_back(r, settings.search_rows);
        double best_error = INFINITY;
        for (int64_t k = 0; k < settings.grid_points; ++k) {
            if (first.job) first.job->check("awq");
            const double alpha = double(k) / double(settings.grid_points - 1);
            const std::vector<float> s = scales_from_alpha(first, alpha);
            double error = 0;
            for (const SearchSet& set : sets) error += set.error_with(s);
            result.errors.push_back({alpha, error});
            if (error < best_error) {
                best_error = error;
                result.alpha = alpha;
            }
        }
    }
    result.scales = scales_from_alpha(first, result.alpha);
    return result;
}

QuantizeResult run_awq(const QuantizeRequest& r) {
    const Settings settings = read_settings(r);
    AwqScales scales;
    if (r.input_scales.empty()) {
        scales = awq_shared_scales({&r, 1});
    } else {
        scales.scales.assign(r.input_scales.begin(), r.input_scales.end());
    }
    const std::vector<float>& s = scales.scales;
    std::vector<float> clip_importance;
    if (settings.clip)
        for (int64_t j = 0; j < r.cols; ++j)
            clip_importance.push_back(float(r.mean_square[size_t(j)] / (double(s[size_t(j)]) * s[size_t(j)])));
    const float* importance =
        settings.clip ? clip_importance.data() : (r.importance.empty() ? nullptr : r.importance.data());
    QuantizeResult result = quantize_scaled(settings.clip ? clip_searching(*r.format) : *r.format, r.weight, r.rows,
                                            r.cols, s, importance, r.threads);
    if (std::any_of(s.begin(), s.end(), [](float v) { return v != 1.0f; })) result.input_scales = s;
    const nlohmann::json alpha = r.input_scales.empty() ? nlohmann::json(scales.alpha) : nlohmann::json(nullptr);
    result.details = {{"alpha", alpha}, {"clip", settings.clip}, {"errors", scales.errors}};
    return result;
}

}  // namespace qb
