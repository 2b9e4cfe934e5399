#include "core/quant/gguf_scale_search.h"

#include <algorithm>
#include <cmath>

#include "core/quant/gguf_block.h"

namespace qb::gguf {
namespace {

// Largest-magnitude value of x, with its sign (the first one on ties).
float signed_absmax(int n, const float* x) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    return max;
}

struct SymmetricFit {
    float sumlx = 0;
    float suml2 = 0;
};

SymmetricFit fit_symmetric(int n, int nmax, const float* x, const float* w, float iscale, int8_t* L) {
    SymmetricFit fit;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = int8_t(l + nmax);
        fit.sumlx += w[i] * x[i] * float(l);
        fit.suml2 += w[i] * float(l) * float(l);
    }
    return fit;
}

float error_measure(float diff, bool use_mad) { return use_mad ? std::fabs(diff) : diff * diff; }

}  // namespace

float search_symmetric_scale(int n, int nmax, const float* x, const float* weights, int8_t* L) {
    const float max = signed_absmax(n, x);
    if (std::fabs(max) < kGroupMaxEps) {
        std::fill(L, L + n, int8_t(0));
        return 0.f;
    }
    float squares[kMaxSearchGroup];
    if (!weights) {
        for (int i = 0; i < n; ++i) squares[i] = x[i] * x[i];
        weights = squares;
    }
    SymmetricFit fit = fit_symmetric(n, nmax, x, weights, -float(nmax) / max, L);
    float scale = fit.suml2 ? fit.sumlx / fit.suml2 : 0.0f;
    float best = scale * fit.sumlx;
    int8_t candidate[kMaxSearchGroup];
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float iscale = -(float(nmax) + 0.1f * float(is)) / max;
        fit = fit_symmetric(n, nmax, x, weights, iscale, candidate);
        if (fit.suml2 > 0 && fit.sumlx * fit.sumlx > best * fit.suml2) {
            std::copy(candidate, candidate + n, L);
            scale = fit.sumlx / fit.suml2;
            best = scale * fit.sumlx;
        }
    }
    return scale;
}

float search_affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* min_out,
                          float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t(0));
        *min_out = -min;
        return 0.f;
    }
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
        best_error += weights[i] * error_measure(scale * float(L[i]) + min - x[i], use_mad);
    }
    uint8_t candidate[kMaxSearchGroup];
    for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
        // ggml divides by (max - min) with min already replaced by the best fit so far; kept for exactness
        iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            candidate[i] = uint8_t(l);
            sum_l += weights[i] * float(l);
            sum_l2 += weights[i] * float(l) * float(l);
            sum_xl += weights[i] * float(l) * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; ++i)
            error += weights[i] * error_measure(this_scale * float(candidate[i]) + this_min - x[i], use_mad);
        if (error < best_error) {
            std::copy(candidate, candidate + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

}  // namespace qb::gguf
