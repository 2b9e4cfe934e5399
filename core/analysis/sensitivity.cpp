#include "core/analysis/sensitivity.h"

#include <algorithm>
#include <numeric>

#include "core/analysis/kernels.h"
#include "core/analysis/moments.h"
#include "core/analysis/row_stream.h"
#include "core/infer/matmul.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

constexpr const char* kEstimates[] = {"hessian_error", "hawq", "mse", "kurtosis", "outlier_share"};
constexpr const char* kTargets[] = {"delta_ppl", "mean_kld"};
constexpr double SensitivityEntry::*kEstimateFields[] = {&SensitivityEntry::hessian_error, &SensitivityEntry::hawq,
                                                          &SensitivityEntry::mse, &SensitivityEntry::kurtosis,
                                                          &SensitivityEntry::outlier_share};
constexpr double SensitivityEntry::*kTargetFields[] = {&SensitivityEntry::delta_ppl, &SensitivityEntry::mean_kld};

// One input record's Hessian in the forms the estimates use.
struct RecordCurvature {
    int64_t dim = 0;
    double trace = 0;
    PackedMatrix hessian;           // f32, the B operand of ΔW · H (H is symmetric: its rows are its columns)
    std::vector<float> importance;  // diag(H), or empty without use_importance
};

RecordCurvature curvature_of(const HessianMatrix& h, bool use_importance, int threads) {
    RecordCurvature c;
    c.dim = h.dim;
    c.trace = h.trace();
    const std::vector<float> values(h.values.begin(), h.values.end());
    c.hessian = PackedMatrix({values.data(), h.dim, h.dim, h.dim}, threads);
    if (use_importance)
        for (double d : h.diagonal()) c.importance.push_back(float(d));
    return c;
}

// The per-tensor proxies: excess kurtosis and the share of |w| > k·σ.
struct WeightShape {
    double kurtosis = 0, outlier_share = 0;
};

WeightShape shape_of(const std::string& tensor, const std::vector<float>& w, double outlier_sigma) {
    if (!kernels::all_finite(w.data(), int64_t(w.size())))
        throw Error(tensor, "holds non-finite values; its sensitivity cannot be estimated");
    MomentAccumulator moments;
    moments.add(w);
    const Moments m = moments.result();
    const float bound = kernels::float_at_or_below(outlier_sigma * m.std);
    return {m.excess_kurtosis, double(kernels::count_abs_above(w.data(), int64_t(w.size()), bound)) / double(w.size())};
}

// Fills the estimates of an entry; returns the decoded weights for the measurement.
std::vector<float> estimate(SensitivityEntry& e, const FormatInfo& format, const std::vector<float>& w,
                            const RecordCurvature& curvature, int threads) {
    const int64_t cols = curvature.dim, rows = int64_t(w.size()) / cols;
    const float* importance = curvature.importance.empty() ? nullptr : curvature.importance.data();
    const std::vector<uint8_t> encoded = encode_tensor(format, w, rows, cols, importance, threads);
    std::vector<float> decoded = decode_tensor(format, encoded, rows, cols, threads);
    std::vector<float> delta(w.size()), weighted(w.size());
    for (size_t i = 0; i < w.size(); ++i) delta[i] = decoded[i] - w[i];
    matmul_nt({delta.data(), rows, cols, cols}, curvature.hessian, {weighted.data(), rows, cols, cols}, threads);
    double quadratic = 0, squared = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        quadratic += double(weighted[i]) * double(delta[i]);
        squared += double(delta[i]) * double(delta[i]);
    }
    e.bits_per_weight = format.bits_per_weight(rows, cols);
    e.hessian_error = quadratic;
    e.hawq = curvature.trace * squared / double(cols);
    e.mse = squared / double(w.size());
    return decoded;
}

void measure(SensitivityEntry& e, std::vector<float> decoded, const Transformer& model, const EvalText& text,
             EvalOptions evaluation, double base_ppl) {
    WeightOverrides overrides;
    overrides.emplace(e.tensor, std::move(decoded));
    evaluation.forward.overrides = &overrides;
    evaluation.job = nullptr;  // progress is counted per entry, from several threads
    const KldResult kld = evaluate_kld(model, model, text, evaluation);
    e.delta_ppl = kld.model.ppl - base_ppl;
    e.mean_kld = kld.mean_kld;
}

std::vector<double> ranks(std::span<const double> x) {
    std::vector<size_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    std::vector<double> rank(x.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
        for (size_t k = i; k <= j; ++k) rank[order[k]] = double(i + j) / 2.0 + 1.0;  // ties share their mean rank
        i = j + 1;
    }
    return rank;
}

std::vector<RankCorrelation> correlations(const std::vector<SensitivityEntry>& entries, const std::vector<std::string>& formats) {
    std::vector<std::string> groups{""};
    groups.insert(groups.end(), formats.begin(), formats.end());
    std::vector<RankCorrelation> table;
    for (size_t t = 0; t < std::size(kTargets); ++t)
        for (size_t s = 0; s < std::size(kEstimates); ++s)
            for (const std::string& format : groups) {
                std::vector<double> estimates, targets;
                for (const SensitivityEntry& e : entries)
                    if ((format.empty() || e.format == format) && std::isfinite(e.*kTargetFields[t])) {
                        estimates.push_back(e.*kEstimateFields[s]);
                        targets.push_back(e.*kTargetFields[t]);
                    }
                table.push_back({kEstimates[s], kTargets[t], format, spearman_rho(estimates, targets), int64_t(estimates.size())});
            }
    return table;
}

std::vector<const FormatInfo*> resolve_formats(const SensitivityOptions& options) {
    std::vector<const FormatInfo*> formats;
    for (const std::string& name : options.formats.empty() ? default_sensitivity_formats() : options.formats)
        formats.push_back(&format_by_name(name));
    return formats;
}

// The records and tensors to analyse, in forward order; every requested tensor must have a record.
std::vector<InputRecord> selected_records(const HessianSource& hessians, const std::vector<std::string>& tensors) {
    std::vector<InputRecord> selected;
    for (const InputRecord& r : hessians.records) {
        InputRecord kept{r.name, {}};
        for (const std::string& t : r.tensors)
            if (tensors.empty() || std::find(tensors.begin(), tensors.end(), t) != tensors.end()) kept.tensors.push_back(t);
        if (!kept.tensors.empty()) selected.push_back(std::move(kept));
    }
    for (const std::string& t : tensors) {
        const bool found = std::any_of(selected.begin(), selected.end(), [&](const InputRecord& r) {
            return std::find(r.tensors.begin(), r.tensors.end(), t) != r.tensors.end();
        });
        if (!found) throw Error("sensitivity", "no linear layer with calibration data multiplies '" + t + "'");
    }
    return selected;
}

std::string encodability_problem(const FormatInfo& format, int64_t cols) {
    return format.can_encode() ? format.shape_problem(cols) : "can be read but not produced";
}

}  // namespace

HessianSource hessian_source(const Calibration& calibration) {
    HessianSource source;
    for (const ActivationStats& s : calibration.records) source.records.push_back({s.record, s.tensors});
    source.load = [&calibration](const std::string& record) {
        const ActivationStats* s = calibration.find(record);
        if (!s || !s->hessian) throw Error("calibration", "no full Hessian for " + record);
        return *s->hessian;
    };
    return source;
}

EvalOptions SensitivityOptions::default_evaluation() {
    EvalOptions e;
    e.ctx = 128;
    e.max_chunks = 4;
    return e;
}

std::vector<std::string> default_sensitivity_formats() {
    return {"q8_0",   "q6_k",   "q5_k",        "q5_0",          "q4_k",           "q4_0",
            "q3_k",   "q2_k",   "iq4_nl",      "int8_pc_sym",   "int4_g32_asym",  "int4_pc_asym_clip",
            "int3_pc_asym_clip"};
}

std::span<const char* const> sensitivity_estimates() { return kEstimates; }
std::span<const char* const> sensitivity_targets() { return kTargets; }

double SensitivityResult::spearman(const std::string& estimate, const std::string& target, const std::string& format) const {
    for (const RankCorrelation& c : correlations)
        if (c.estimate == estimate && c.target == target && c.format == format) return c.rho;
    return NAN;
}

double spearman_rho(std::span<const double> a, std::span<const double> b) {
    if (a.size() != b.size() || a.size() < 2) return NAN;
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double mean = (double(a.size()) + 1.0) / 2.0;  // the mean of ranks 1..n, ties included
    double cov = 0, var_a = 0, var_b = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        cov += (ra[i] - mean) * (rb[i] - mean);
        var_a += (ra[i] - mean) * (ra[i] - mean);
        var_b += (rb[i] - mean) * (rb[i] - mean);
    }
    return var_a > 0 && var_b > 0 ? cov / std::sqrt(var_a * var_b) : NAN;
}

SensitivityResult analyze_sensitivity(const Transformer& model, const HessianSource& hessians, const EvalText& text,
                                      const SensitivityOptions& options, JobControl* control, int threads) {
    const std::vector<const FormatInfo*> formats = resolve_formats(options);
    const std::vector<InputRecord> records = selected_records(hessians, options.tensors);
    const int thread_count = threads > 0 ? threads : hardware_threads();
    SensitivityResult result;
    result.importance = options.use_importance;
    EvalOptions evaluation = options.evaluation;
    evaluation.forward.threads = thread_count;
    if (options.measure) {
        const PerplexityResult base = evaluate_perplexity(model, text, evaluation);
        result.protocol = base.protocol;
        result.eval_ctx = base.ctx;
        result.eval_chunks = base.chunks;
        result.eval_tokens = base.tokens;
        result.base_ppl = base.ppl;
    }
    int64_t tensor_count = 0;
    for (const InputRecord& r : records) tensor_count += int64_t(r.tensors.size());
    AnalysisProgress progress(control, tensor_count * int64_t(formats.size()), "sensitivity");

    for (const InputRecord& record : records) {
        progress.check();
        const RecordCurvature curvature = curvature_of(hessians.load(record.name), options.use_importance, thread_count);
        for (const std::string& tensor : record.tensors) {
            const std::vector<float> w = model.weight(tensor);
            if (int64_t(w.size()) % curvature.dim != 0)
                throw Error(tensor, "rows of " + std::to_string(curvature.dim) + " values expected (the Hessian of " + record.name + ")");
            const WeightShape shape = shape_of(tensor, w, options.outlier_sigma);
            std::vector<const FormatInfo*> usable;
            for (const FormatInfo* f : formats) {
                if (std::string problem = encodability_problem(*f, curvature.dim); !problem.empty())
                    result.skipped.push_back({tensor, f->name, std::move(problem)});
                else
                    usable.push_back(f);
            }
            progress.advance(int64_t(formats.size() - usable.size()));
            // Evaluations of one tensor's formats run side by side, each forward pass on its share of threads.
            const int64_t workers = std::clamp<int64_t>(int64_t(usable.size()), 1, thread_count);
            const int inner_threads = std::max(1, int(thread_count / workers));
            std::vector<SensitivityEntry> entries(usable.size());
            parallel_for(int64_t(usable.size()), int(workers), [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    SensitivityEntry& e = entries[size_t(i)];
                    e.tensor = tensor;
                    e.format = usable[size_t(i)]->name;
                    e.kurtosis = shape.kurtosis;
                    e.outlier_share = shape.outlier_share;
                    std::vector<float> decoded = estimate(e, *usable[size_t(i)], w, curvature, inner_threads);
                    if (options.measure) {
                        EvalOptions mine = evaluation;
                        mine.forward.threads = inner_threads;
                        measure(e, std::move(decoded), model, text, mine, result.base_ppl);
                    }
                    progress.advance(1);
                }
            });
            result.entries.insert(result.entries.end(), entries.begin(), entries.end());
        }
    }
    std::vector<std::string> format_names;
    for (const FormatInfo* f : formats) format_names.push_back(f->name);
    if (options.measure) result.correlations = correlations(result.entries, format_names);
    return result;
}

}  // namespace qb
