// Per-tensor quantization sensitivity: for every linear weight W (rows × d_in, input record with Hessian
// H = XᵀX / tokens, see hessian.h) and candidate format F, ΔW = decode(encode_F(W)) − W and
//   estimates (no forward pass):
//     hessian_error = Σ_rows Δwᵀ H Δw   the OBS/GPTQ second-order estimate of the loss increase; with
//                                       H's normalisation, the mean squared change of the layer output
//                                       per token, summed over output channels;
//     hawq          = trace(H) · ‖ΔW‖²_F / d_in   (HAWQ: the average curvature times the weight error);
//     mse           = ‖ΔW‖²_F / (rows · d_in);
//     kurtosis, outlier_share: of W alone (excess kurtosis; fraction of |w| > outlier_sigma · σ), the
//                              same for every format of a tensor: proxies to rank tensors within a format;
//   measurement (ground truth): the model with ONLY this tensor replaced by its decoded values (a weight
//     override of the forward pass, no model copy) is evaluated against the unchanged model on an
//     evaluation slice (evaluate_kld: both models over the same chunks): delta_ppl = ppl(quantized) −
//     ppl(base) and mean_kld = mean KL(base || quantized) in nats.
// With use_importance, W is encoded with the importance vector diag(H) = mean x² per column, as
// llama-quantize does with an imatrix (formats that take no importance ignore it).
// Spearman's ρ (average ranks for ties) of every estimate against delta_ppl and mean_kld, over all
// entries (format "") and per format.
// Formats whose shape_problem(d_in) is non-empty (or that cannot encode) are not measured for that
// tensor; they are listed in `skipped` with the reason.
// Memory: one input record's Hessian (f64, plus an f32 copy) and one tensor with its decoded copy.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/infer/perplexity.h"
#include "core/jobs/job.h"

namespace qb {

struct InputRecord {
    std::string name;
    std::vector<std::string> tensors;  // the weights multiplying this input, in forward order
};

// Where the Hessians come from: a Calibration in memory or an analysis file (core/store).
struct HessianSource {
    std::vector<InputRecord> records;  // in forward order
    std::function<HessianMatrix(const std::string& record)> load;  // throws Error when there is none
};
HessianSource hessian_source(const Calibration& calibration);  // refers to calibration, which must outlive it

struct SensitivityOptions {
    std::vector<std::string> formats;  // empty: default_sensitivity_formats()
    std::vector<std::string> tensors;  // empty: every weight with an input record
    bool use_importance = true;
    bool measure = true;               // false: estimates only (delta_ppl and mean_kld stay NaN)
    double outlier_sigma = 3.0;
    EvalOptions evaluation = default_evaluation();

    static EvalOptions default_evaluation();  // llama.cpp protocol, ctx 128, 4 chunks
};

// q8_0, q6_k, q5_k, q5_0, q4_k, q4_0, q3_k, q2_k, iq4_nl and integer grids with per-group (32) and
// per-channel scales.
std::vector<std::string> default_sensitivity_formats();

struct SensitivityEntry {
    std::string tensor;
    std::string format;
    double bits_per_weight = 0;
    double hessian_error = 0;
    double hawq = 0;
    double mse = 0;
    double kurtosis = 0;
    double outlier_share = 0;
    double delta_ppl = NAN;
    double mean_kld = NAN;
};

struct SkippedFormat {
    std::string tensor;
    std::string format;
    std::string problem;
};

struct RankCorrelation {
    std::string estimate;  // "hessian_error", "hawq", "mse", "kurtosis", "outlier_share"
    std::string target;    // "delta_ppl", "mean_kld"
    std::string format;    // "" for all formats together
    double rho = NAN;      // NaN when fewer than 2 entries or a constant column
    int64_t count = 0;
};

struct SensitivityResult {
    EvalProtocol protocol = EvalProtocol::LlamaCpp;
    int64_t eval_ctx = 0, eval_chunks = 0, eval_tokens = 0;  // eval_tokens: scored tokens
    double base_ppl = NAN;
    bool importance = false;
    std::vector<SensitivityEntry> entries;  // tensors in forward order, formats in option order
    std::vector<SkippedFormat> skipped;
    std::vector<RankCorrelation> correlations;

    // rho of one estimate against one target over all formats (""), or one format; NaN when absent.
    double spearman(const std::string& estimate, const std::string& target, const std::string& format = "") const;
};

// Spearman's rank correlation; ties get their average rank. NaN for fewer than 2 pairs or a constant side.
double spearman_rho(std::span<const double> a, std::span<const double> b);

// Names of the estimates and targets, in the order of RankCorrelation tables.
std::span<const char* const> sensitivity_estimates();
std::span<const char* const> sensitivity_targets();

// Throws Error for an unknown format or tensor, a tensor whose input has no Hessian, or the evaluation's
// errors; Cancelled when cancelled. threads <= 0: all hardware threads.
SensitivityResult analyze_sensitivity(const Transformer& model, const HessianSource& hessians, const EvalText& text,
                                      const SensitivityOptions& options, JobControl* control = nullptr, int threads = 0);

}  // namespace qb
