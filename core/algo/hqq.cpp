#include "core/algo/hqq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/algo/options.h"
#include "core/jobs/job.h"
#include "core/quant/grid_math.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

struct Settings {
    double p = 0.7, beta = 10, kappa = 1.01;
    int64_t iterations = 20;
    bool optimize_scale = true;
};

Settings read_settings(const QuantizeRequest& r) {
    OptionReader options(r.options, "hqq");
    Settings s;
    s.p = options.number("p", 0.7, 0.01, 2.0);
    s.beta = options.number("beta", 10, 1e-6, 1e12);
    s.kappa = options.number("kappa", 1.01, 1.0, 100.0);
    s.iterations = options.integer("iterations", 20, 0, 10000);
    s.optimize_scale = options.flag("optimize_scale", true);
    options.finish();
    return s;
}

// The lp proximal step (HQQ eq. 5): sign(e) · max(|e| - |e|^(p-1) / β, 0).
float shrink(float e, double p, double beta) {
    const double magnitude = std::fabs(double(e));
    return float(std::copysign(std::max(magnitude - std::pow(magnitude + 1e-8, p - 1) / beta, 0.0), double(e)));
}

struct UnitFit {
    float scale;  // step between codes
    float zero;   // real-valued zero point
};

class UnitOptimizer {
public:
    UnitOptimizer(const GridParams& g, const Settings& s) : g_(g), s_(s), max_code_(float(grid::max_code(g.bits))) {}

    // Σ |x - Q(x)|^p of the unit as stored with `scale`.
    double lp_error(const float* x, int64_t n, const grid::Scale& scale) const {
        const grid::Quantizer q(g_, scale);
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += std::pow(std::fabs(double(x[i]) - double(q.value(q.code(x[i])))), s_.p);
        return sum;
    }

    grid::Scale best_record(const float* x, int64_t n, const grid::Scale& rtn) const {
        if (rtn.s() == 0) return rtn;
        const UnitFit fit = optimise(x, n, {rtn.s(), float(rtn.zero)});
        grid::Scale best = rtn;
        double best_error = lp_error(x, n, rtn);
        const uint16_t s_f16 = fp32_to_fp16(fit.scale);
        for (const float zero : {std::floor(fit.zero), std::ceil(fit.zero)}) {
            const grid::Scale candidate{s_f16, int(std::clamp(zero, 0.0f, max_code_))};
            const double error = lp_error(x, n, candidate);
            if (error < best_error) {
                best = candidate;
                best_error = error;
            }
        }
        return best;
    }

private:
    UnitFit optimise(const float* x, int64_t n, UnitFit fit) const {
        std::vector<float> codes(static_cast<size_t>(n)), target(static_cast<size_t>(n));
        double beta = s_.beta, best_mean_error = INFINITY;
        for (int64_t it = 0; it < s_.iterations; ++it) {
            double mean_error = 0;
            for (int64_t i = 0; i < n; ++i) {
                codes[size_t(i)] = std::clamp(std::nearbyint(x[i] / fit.scale + fit.zero), 0.0f, max_code_);
                const float error = x[i] - (codes[size_t(i)] - fit.zero) * fit.scale;
                target[size_t(i)] = x[i] - shrink(error, s_.p, beta);
                mean_error += std::fabs(double(error));
            }
            mean_error /= double(n);
            if (!(mean_error < best_mean_error)) break;
            best_mean_error = mean_error;
            fit = s_.optimize_scale ? least_squares(codes, target, fit) : zero_only(codes, target, fit);
            beta *= s_.kappa;
        }
        return fit;
    }

    // z = mean(W_q - target / s) (HQQ eq. 6).
    static UnitFit zero_only(const std::vector<float>& codes, const std::vector<float>& target, UnitFit fit) {
        double sum = 0;
        for (size_t i = 0; i < codes.size(); ++i) sum += double(codes[i]) - double(target[i]) / fit.scale;
        return {fit.scale, float(sum / double(codes.size()))};
    }

    // target ≈ s · code + b by least squares; z = -b / s. Keeps the fit when the codes do not vary.
    static UnitFit least_squares(const std::vector<float>& codes, const std::vector<float>& target, UnitFit fit) {
        const double n = double(codes.size());
        double mc = 0, mt = 0;
        for (size_t i = 0; i < codes.size(); ++i) {
            mc += codes[i];
            mt += target[i];
        }
        mc /= n;
        mt /= n;
        double covariance = 0, variance = 0;
        for (size_t i = 0; i < codes.size(); ++i) {
            covariance += (codes[i] - mc) * (target[i] - mt);
            variance += (codes[i] - mc) * (codes[i] - mc);
        }
        const double s = variance > 0 ? covariance / variance : 0;
        if (!(s > 0)) return zero_only(codes, target, fit);
        return {float(s), float(mc - mt / s)};
    }

    const GridParams& g_;
    const Settings& s_;
    float max_code_;
};

}  // namespace

std::string hqq_format_problem(const FormatInfo& format) {
    if (format.kind == FormatKind::IntGrid && format.grid.asymmetric && format.grid.group != kPerTensor) return "";
    return "hqq optimises zero points: it needs an asymmetric integer grid per group or row, not " + format.name;
}

QuantizeResult run_hqq(const QuantizeRequest& r) {
    const Settings settings = read_settings(r);
    const GridParams& g = r.format->grid;
    const int64_t unit = g.group > 0 ? g.group : r.cols, units = r.cols / unit;
    const size_t unit_bytes = grid::record_bytes(g) + grid::code_bytes(g.bits, unit);
    const UnitOptimizer optimizer(g, settings);
    QuantizeResult result;
    result.bytes.resize(r.format->tensor_bytes(r.rows, r.cols));
    result.dequantized.resize(size_t(r.rows * r.cols));
    std::vector<int64_t> improved(size_t(r.rows));
    std::vector<double> lp(size_t(r.rows)), rtn_lp(size_t(r.rows));
    parallel_for(r.rows, r.threads, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
            if (r.job) r.job->check("hqq");
            for (int64_t u = 0; u < units; ++u) {
                const float* x = r.weight + row * r.cols + u * unit;
                const grid::Scale rtn = grid::choose_unit_scale(g, x, unit, nullptr);
                const grid::Scale best = optimizer.best_record(x, unit, rtn);
                improved[size_t(row)] += best.s_f16 != rtn.s_f16 || best.zero != rtn.zero;
                lp[size_t(row)] += optimizer.lp_error(x, unit, best);
                rtn_lp[size_t(row)] += optimizer.lp_error(x, unit, rtn);
                grid::write_unit(g, best, x, unit, result.bytes.data() + (row * units + u) * unit_bytes);
                const grid::Quantizer q(g, best);
                float* y = result.dequantized.data() + row * r.cols + u * unit;
                for (int64_t i = 0; i < unit; ++i) y[i] = q.value(q.code(x[i]));
            }
        }
    });
    result.details = {{"units", r.rows * units},
                      {"units_improved", std::accumulate(improved.begin(), improved.end(), int64_t(0))},
                      {"lp_error", std::accumulate(lp.begin(), lp.end(), 0.0)},
                      {"rtn_lp_error", std::accumulate(rtn_lp.begin(), rtn_lp.end(), 0.0)}};
    return result;
}

}  // namespace qb
