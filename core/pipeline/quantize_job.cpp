#include "core/pipeline/quantize_job.h"

#include <chrono>
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>

#include "core/algo/algorithm.h"
#include "core/analysis/hessian.h"
#include "core/backend/backend.h"
#include "core/export/roundtrip.h"
#include "core/infer/tokenizer.h"
#include "core/pipeline/awq_folding.h"
#include "core/plan/plan_export.h"
#include "core/store/analysis_file.h"
#include "core/util/clock.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const Algorithm* algorithm_of(const TensorAssignment& a) {
    return a.algorithm.empty() ? nullptr : &algorithm_by_name(a.algorithm);
}

bool needs_calibration(const Algorithm& algorithm) { return algorithm.needs_hessian || algorithm.needs_activations; }

// With an executor the CPU keeps no decoded copy of the weights (as quantbench-cli eval): the products it
// still runs decode their rows as they go, with the same sums.
int64_t resident_budget(const LinearExecutor* executor) { return executor ? 0 : kResidentWeightBudget; }

std::string description_of(const LinearExecutor* executor) { return executor ? executor->description() : "CPU"; }

// Removes the output unless released: a job that fails or is cancelled after writing leaves nothing.
class OutputGuard {
public:
    explicit OutputGuard(fs::path output) : output_(std::move(output)) {}
    ~OutputGuard() {
        std::error_code ignored;
        if (!released_) fs::remove_all(output_, ignored);
    }
    OutputGuard(const OutputGuard&) = delete;
    OutputGuard& operator=(const OutputGuard&) = delete;
    void release() { released_ = true; }

private:
    fs::path output_;
    bool released_ = false;
};

TensorRun planned_run(const TensorAssignment& a) {
    TensorRun run;
    run.name = a.name;
    run.format = a.format ? a.format->name : "";
    run.algorithm = a.quantized() ? a.algorithm : "";
    run.parameters = a.parameters();
    run.bytes = a.bytes;
    run.bits_per_weight = a.bits_per_weight();
    return run;
}

// A tensor no linear layer multiplies (token_embd) has no calibration input: it takes rtn.
std::string runnable_algorithm(const TensorAssignment& a, const Calibration* calibration) {
    if (!needs_calibration(algorithm_by_name(a.algorithm))) return a.algorithm;
    if (!calibration) throw Error(a.name, a.algorithm + " needs calibration (give a calibration text)");
    return calibration->run.record_of.count(a.name) ? a.algorithm : "rtn";
}

// Named records grouped by calibrate()'s budget rule (hessian_budget_groups).
std::vector<std::vector<std::string>> budget_groups(const std::vector<std::pair<std::string, uint64_t>>& records,
                                                    uint64_t budget) {
    std::vector<uint64_t> bytes;
    for (const auto& record : records) bytes.push_back(record.second);
    std::vector<std::vector<std::string>> groups;
    for (const std::vector<size_t>& indices : hessian_budget_groups(bytes, budget)) {
        std::vector<std::string>& group = groups.emplace_back();
        for (size_t i : indices) group.push_back(records[i].first);
    }
    return groups;
}

// The Hessians the producers need and the calibration lacks, one group at a time (header): groups of records
// in the order they are asked for, each loaded by one calibration pass for its records only, the previous
// group dropped first. The producers run one at a time (the exporters call them sequentially).
class LazyHessians {
public:
    LazyHessians(const Model& model, const QuantizeJobOptions& options, JobControl* job, AllocationMemory& memory)
        : model_(model), options_(options), job_(job), memory_(memory) {}

    // Groups the records lacking a Hessian (in the order given) by calibrate()'s rule.
    void plan(const std::vector<std::string>& records, const Calibration& calibration) {
        std::vector<std::pair<std::string, uint64_t>> sized;
        for (const std::string& record : records) {
            const ActivationStats* stats = calibration.find(record);
            if (!stats || stats->hessian || group_of_.count(record)) continue;
            sized.emplace_back(record, hessian_bytes(stats->channels));
        }
        for (const auto& group : budget_groups(sized, options_.calibration.hessian_memory_bytes)) {
            for (const std::string& record : group) group_of_[record] = groups_.size();
            groups_.push_back(group);
        }
        for (const auto& [record, bytes] : sized) {
            memory_.all_hessian_bytes += bytes;
            ++memory_.records;
        }
    }

    // Takes over the Hessians the calibration accumulated (after `passes` passes) as the group held.
    void adopt(Calibration& calibration, int passes) {
        memory_.calibration_passes += passes;
        std::vector<std::string> group;
        std::vector<std::pair<std::string, HessianMatrix>> taken;
        for (ActivationStats& stats : calibration.records)
            if (stats.hessian) {
                group.push_back(stats.record);
                group_of_[stats.record] = groups_.size();
                memory_.all_hessian_bytes += hessian_bytes(stats.hessian->dim);
                ++memory_.records;
                taken.emplace_back(stats.record, std::move(*stats.hessian));
                stats.hessian.reset();
            }
        if (group.empty()) return;
        groups_.push_back(group);
        hold(groups_.size() - 1, std::move(taken));
    }

    // The record's Hessian, loading its group when it is not the one held; nullptr when not planned here.
    const HessianMatrix* find(const std::string& record) {
        const auto group = group_of_.find(record);
        if (group == group_of_.end()) return nullptr;
        if (group->second != current_) load(group->second);
        const auto it = held_.find(record);
        return it == held_.end() ? nullptr : &it->second;
    }

private:
    void load(size_t group) {
        held_.clear();  // the previous group first: at most one group at a time
        current_ = SIZE_MAX;
        if (!options_.calibration_text) throw Error(groups_[group].front(), "its algorithm needs a Hessian: give a calibration text");
        CalibrationOptions options = job_calibration_options(options_);
        options.full_hessian = true;
        options.hessian_records = groups_[group];
        std::vector<std::pair<std::string, HessianMatrix>> taken;
        const Transformer net(model_, options_.threads, job_, resident_budget(options.executor));
        const CalibrationRun run = calibrate(
            net, evaluation_text(model_tokenizer(model_), options_.calibration_text->text), options,
            [&](ActivationStats&& stats) {
                const auto it = group_of_.find(stats.record);
                if (stats.hessian && it != group_of_.end() && it->second == group)
                    taken.emplace_back(stats.record, std::move(*stats.hessian));
            },
            job_, options_.threads);
        memory_.calibration_passes += run.passes;
        hold(group, std::move(taken));
    }

    void hold(size_t group, std::vector<std::pair<std::string, HessianMatrix>> taken) {
        uint64_t bytes = 0;
        for (auto& [record, hessian] : taken) {
            bytes += hessian_bytes(hessian.dim);
            held_.emplace(record, std::move(hessian));
        }
        current_ = group;
        memory_.peak_hessians_held = std::max(memory_.peak_hessians_held, int64_t(held_.size()));
        memory_.peak_group_hessian_bytes = std::max(memory_.peak_group_hessian_bytes, bytes);
    }

    const Model& model_;
    const QuantizeJobOptions& options_;
    JobControl* job_;
    AllocationMemory& memory_;
    std::vector<std::vector<std::string>> groups_;
    std::map<std::string, size_t> group_of_;
    size_t current_ = SIZE_MAX;
    std::map<std::string, HessianMatrix> held_;
};

QuantizeResult quantize_tensor(const TensorAssignment& a, const std::string& algorithm_name, const TensorView& source,
                               const Calibration* calibration, LazyHessians& hessians, const AwqFolding& folding,
                               const JobControl* job, int threads, Backend* backend) {
    const Algorithm& algorithm = algorithm_by_name(algorithm_name);
    const bool awq = algorithm_name == "awq";  // applies the folded input scales itself
    const std::vector<float> weight = folding.apply(a.name, source.shape, source.to_f32(threads), !awq);
    QuantizeRequest request;
    request.weight = weight.data();
    request.rows = source.rows();
    request.cols = source.cols();
    request.format = a.format;
    if (algorithm_name == a.algorithm) request.options = a.options;
    if (awq) request.input_scales = folding.input_scales(a.name);
    request.threads = threads;
    request.job = job;
    request.backend = backend;
    if (needs_calibration(algorithm)) {
        const ActivationStats& input = calibration->input_of(a.name);
        request.mean_abs = input.mean_abs;
        request.mean_square = input.mean_sq;
        if (algorithm.needs_hessian && input.hessian) request.hessian = input.hessian->values;
        else if (algorithm.needs_hessian)
            if (const HessianMatrix* h = hessians.find(input.record)) request.hessian = h->values;
    }
    return quantize_matrix(algorithm_name, request);
}

// The exporter's plan with a producer per quantized tensor that runs its algorithm and records its errors.
ExportPlan producing_plan(const Model& model, const ResolvedPlan& resolved, const fs::path& output,
                          const Calibration* calibration, LazyHessians& hessians, const AwqFolding& folding,
                          std::vector<TensorRun>& runs, const JobControl* job, int threads, Backend* backend) {
    ExportPlan plan = export_plan_of(resolved, output);
    plan.threads = threads;
    runs.clear();
    runs.reserve(plan.tensors.size());  // producers hold references into it
    for (auto& entry : plan.tensors) {
        const TensorAssignment* a = resolved.find(entry.name);
        if (!a) throw Error(entry.name, "the export plan names a tensor the resolved plan does not have");
        runs.push_back(planned_run(*a));
        if (!a->quantized() || a->algorithm.empty()) {
            const TensorView& source = model.tensor(a->name);
            if (folding.find(a->name))
                entry.produce = awq_folded_producer(folding, source, entry.format ? *entry.format : *source.format, threads);
            continue;
        }
        entry.produce = [a, &source = model.tensor(a->name), &run = runs.back(), calibration, &hessians, &folding, job,
                         threads, backend] {
            const auto start = Clock::now();
            run.algorithm = folding.algorithm_for(a->name, runnable_algorithm(*a, calibration));
            QuantizeResult q = quantize_tensor(*a, run.algorithm, source, calibration, hessians, folding, job, threads, backend);
            run.mse = q.error.mse;
            run.sqnr_db = q.error.sqnr_db;
            run.cosine = q.error.cosine;
            run.max_abs_error = q.error.max_abs_error;
            run.hessian_error = q.hessian_error;
            run.seconds = seconds_since(start);
            return std::move(q.bytes);
        };
    }
    return plan;
}

RoundTripSummary summarize(const RoundTripReport& report) {
    RoundTripSummary s;
    s.tensors = int64_t(report.tensors.size());
    for (const auto& t : report.tensors) {
        s.exact_tensors += t.exact;
        s.max_abs_diff = std::max(s.max_abs_diff, t.max_abs_diff);
    }
    s.tokens = report.tokens;
    s.max_logit_diff = report.max_logit_diff;
    s.logit_tolerance = report.logit_tolerance;
    return s;
}

void set_perplexities(EvaluationSummary& e, const PerplexityResult& model, const PerplexityResult& base) {
    e.done = true;
    e.protocol = std::string(protocol_name(model.protocol));
    e.ctx = model.ctx;
    e.chunks = model.chunks;
    e.tokens = model.tokens;
    e.ppl = model.ppl;
    e.ppl_stderr = model.ppl_stderr;
    e.base_ppl = base.ppl;
    e.base_ppl_stderr = base.ppl_stderr;
    e.delta_ppl = model.ppl - base.ppl;
    e.delta_ppl_percent = 100.0 * e.delta_ppl / base.ppl;
}

EvaluationSummary evaluate_reloaded(const Model& reloaded, const Model& base_model, const QuantizeJobOptions& options,
                                    const JobControl* job) {
    EvalOptions eval = options.evaluation;
    eval.job = job;
    eval.forward.threads = options.threads;
    eval.forward.executor = options.executor;
    const Transformer quantized(reloaded, options.threads, job, resident_budget(options.executor));
    const Transformer base(base_model, options.threads, job, resident_budget(options.executor));
    const EvalText text = evaluation_text(model_tokenizer(base_model), options.evaluation_text->text);
    EvaluationSummary e;
    if (!options.kld) {
        set_perplexities(e, evaluate_perplexity(quantized, text, eval), evaluate_perplexity(base, text, eval));
        return e;
    }
    const KldResult k = evaluate_kld(quantized, base, text, eval);
    set_perplexities(e, k.model, k.base);
    e.kld = true;
    e.mean_kld = k.mean_kld;
    e.kld_stderr = k.kld_stderr;
    e.median_kld = k.median_kld;
    e.p99_kld = k.p99_kld;
    e.max_kld = k.max_kld;
    e.top1_agreement = k.top1_agreement;
    return e;
}

RunProvenance provenance_of(const Model& model, const QuantPlan& plan, const QuantizeJobOptions& options,
                            const Calibration* calibration) {
    RunProvenance p;
    p.tool_version = QB_VERSION;
    p.created = utc_now();
    p.command_line = options.command_line;
    p.model_path = model.source_path.string();
    for (const auto& d : model_file_digests(model)) {
        p.model_files.push_back(d.path);
        p.model_sha256.push_back(d.sha256);
    }
    p.plan = plan_to_json(plan);
    if (options.calibration_text && calibration) {
        p.calibration_text = options.calibration_text->path.string();
        p.calibration_text_sha256 = options.calibration_text->sha256;
        p.calibration_tokens = calibration->run.tokens;
    }
    if (options.evaluation_text) {
        p.evaluation_text = options.evaluation_text->path.string();
        p.evaluation_text_sha256 = options.evaluation_text->sha256;
    }
    return p;
}

// The input records of the tensors whose algorithm needs a Hessian, in file order.
std::vector<std::string> hessian_records(const ResolvedPlan& plan, const CalibrationRun& run) {
    std::vector<std::string> records;
    for (const auto& a : plan.tensors) {
        const Algorithm* algorithm = a.quantized() ? algorithm_of(a) : nullptr;
        if (!algorithm || !algorithm->needs_hessian) continue;
        const auto it = run.record_of.find(a.name);
        if (it != run.record_of.end() && std::find(records.begin(), records.end(), it->second) == records.end())
            records.push_back(it->second);
    }
    return records;
}

// One calibration pass keeping the records of `tensors` only.
Calibration calibrate_records(const Model& model, const TextFile& text, const CalibrationOptions& options,
                              const std::vector<std::string>& tensors, JobControl* job, int threads) {
    std::set<std::string> wanted;
    for (const auto& t : tensors) wanted.insert(input_record_name(t));
    const Transformer net(model, threads, job, resident_budget(options.executor));
    Calibration calibration;
    calibration.run = calibrate(net, evaluation_text(model_tokenizer(model), text.text), options,
                                [&](ActivationStats&& stats) {
                                    if (wanted.count(stats.record)) calibration.records.push_back(std::move(stats));
                                },
                                job, threads);
    return calibration;
}

// The records of `tensors` with their summaries, and Hessians for `hessian_records` (empty: none).
Calibration summarized(const Model& model, const TextFile& text, const CalibrationOptions& options,
                       const std::vector<std::string>& tensors, const std::vector<std::string>& hessian_records,
                       JobControl* job, int threads) {
    CalibrationOptions kept = options;
    kept.full_hessian = !hessian_records.empty();
    kept.hessian_records = hessian_records;
    return calibrate_records(model, text, kept, tensors, job, threads);
}

std::vector<std::string> calibrated_tensors(const ResolvedPlan& plan, bool& hessians) {
    std::vector<std::string> names;
    hessians = false;
    for (const auto& a : plan.tensors) {
        const Algorithm* algorithm = a.quantized() ? algorithm_of(a) : nullptr;
        if (!algorithm || !needs_calibration(*algorithm)) continue;
        names.push_back(a.name);
        hessians = hessians || algorithm->needs_hessian;
    }
    return names;
}

// Where the stages ran (RunResult::devices): calibration when this job calibrated, Hessians when it needed them.
StageDevices stage_devices(const ResolvedPlan& plan, const Model& model, const QuantizeJobOptions& options,
                           bool calibrated, bool hessians) {
    std::vector<int64_t> hessian_dims;
    for (const auto& a : plan.tensors) {
        const Algorithm* algorithm = a.quantized() ? algorithm_of(a) : nullptr;
        if (hessians && algorithm && algorithm->needs_hessian) hessian_dims.push_back(model.tensor(a.name).cols());
    }
    StageDevices d;
    if (calibrated) d = calibration_devices(job_calibration_options(options), hessian_dims);
    d.quantization = options.backend ? options.backend->description() : "CPU";
    if (options.evaluation_text) d.evaluation = description_of(options.executor);
    return d;
}

}  // namespace

CalibrationOptions job_calibration_options(const QuantizeJobOptions& options) {
    CalibrationOptions calibration = options.calibration;
    calibration.executor = options.executor;
    calibration.backend = options.backend;
    return calibration;
}

StageDevices calibration_devices(const CalibrationOptions& options, const std::vector<int64_t>& hessian_dims) {
    StageDevices d;
    d.calibration = description_of(options.executor);
    int64_t on_device = 0, on_cpu = 0;
    for (int64_t dim : hessian_dims) (options.backend && options.backend->accelerates_hessian(dim) ? on_device : on_cpu) += 1;
    if (on_device + on_cpu == 0) return d;
    d.hessians = on_device == 0 ? "CPU" : on_cpu == 0 ? options.backend->description() : options.backend->description() + " and CPU";
    return d;
}

bool plan_needs_calibration(const ResolvedPlan& plan) {
    bool hessians = false;
    return !calibrated_tensors(plan, hessians).empty();
}

bool plan_needs_eager_hessians(const ResolvedPlan& plan) {
    bool awq = false, hessians = false;
    for (const auto& a : plan.tensors) {
        const Algorithm* algorithm = a.quantized() ? algorithm_of(a) : nullptr;
        if (!algorithm) continue;
        awq = awq || a.algorithm == "awq";
        hessians = hessians || algorithm->needs_hessian;
    }
    return awq && hessians;
}

Calibration calibrate_for(const Model& model, const TextFile& text, const CalibrationOptions& options,
                          const std::vector<std::string>& tensors, bool hessians, JobControl* job, int threads) {
    CalibrationOptions kept = options;
    kept.full_hessian = hessians;
    return calibrate_records(model, text, kept, tensors, job, threads);
}

RunResult run_quantize_job(const Model& model, const QuantPlan& plan, const ResolvedPlan& resolved,
                           const QuantizeJobOptions& options, JobControl* job, const Calibration* calibration) {
    const auto start = Clock::now();
    RunResult result;
    result.config = resolved.plan_name;

    AllocationMemory memory;
    LazyHessians lazy(model, options, job, memory);
    const CalibrationOptions job_calibration = job_calibration_options(options);
    std::optional<Calibration> own_calibration;
    bool hessians = false;
    const std::vector<std::string> calibrated = calibrated_tensors(resolved, hessians);
    if (!calibrated.empty() && !calibration) {
        if (!options.calibration_text)
            throw Error(calibrated.front(), "its algorithm needs calibration: give a calibration text");
        if (hessians && plan_needs_eager_hessians(resolved)) {
            own_calibration = calibrate_for(model, *options.calibration_text, job_calibration, calibrated, true, job,
                                            options.threads);
        } else if (hessians) {
            // The first group is accumulated with the summaries (one pass when every Hessian fits, as before);
            // it is sized from the weights' input widths, as the records are only known once calibrated.
            std::vector<std::pair<std::string, uint64_t>> sized;
            for (const auto& a : resolved.tensors) {
                const Algorithm* algorithm = a.quantized() ? algorithm_of(a) : nullptr;
                const std::string record = input_record_name(a.name);
                if (!algorithm || !algorithm->needs_hessian ||
                    std::any_of(sized.begin(), sized.end(), [&](const auto& r) { return r.first == record; }))
                    continue;
                sized.emplace_back(record, hessian_bytes(model.tensor(a.name).cols()));
            }
            const auto groups = budget_groups(sized, options.calibration.hessian_memory_bytes);
            own_calibration = summarized(model, *options.calibration_text, job_calibration, calibrated, groups.front(),
                                         job, options.threads);
            lazy.adopt(*own_calibration, own_calibration->run.passes);
            lazy.plan(hessian_records(resolved, own_calibration->run), *own_calibration);
        } else {
            own_calibration = calibrate_for(model, *options.calibration_text, job_calibration, calibrated, false, job,
                                            options.threads);
        }
        calibration = &*own_calibration;
    } else if (calibration && hessians) {
        lazy.plan(hessian_records(resolved, calibration->run), *calibration);
    }
    result.seconds.calibration = seconds_since(start);

    auto stage = Clock::now();
    const AwqFolding folding = plan_awq_folding(model, resolved, calibration, job, options.threads);
    const ExportPlan plan_out =
        producing_plan(model, resolved, options.output, calibration, lazy, folding, result.tensors, job,
                       options.threads, options.backend);
    result.plan_summary = plan_summary(plan_out, resolve_export_plan(plan_out, model, nullptr));
    Model intended;
    result.file_bytes = export_model(model, plan_out, job, &intended);
    OutputGuard guard(options.output);
    if (options.hessian_memory) *options.hessian_memory = memory;
    result.seconds.quantization = seconds_since(stage);

    stage = Clock::now();
    RoundTripOptions roundtrip;
    roundtrip.threads = options.threads;
    result.roundtrip = summarize(validate_roundtrip(intended, plan_out, roundtrip));
    result.seconds.validation = seconds_since(stage);

    stage = Clock::now();
    if (options.evaluation_text) result.evaluation = evaluate_reloaded(reload_export(plan_out, intended), model, options, job);
    result.seconds.evaluation = seconds_since(stage);
    result.devices = stage_devices(resolved, model, options, own_calibration.has_value() || memory.calibration_passes > 0,
                                   hessians);
    if (job) job->check("quantize");
    guard.release();

    result.target = std::string(export_target_name(plan_out.target));
    result.output = options.output.string();
    result.tensor_bytes = resolved.total_bytes();
    result.parameters = resolved.parameters();
    result.bits_per_weight = resolved.bits_per_weight();
    result.fallbacks = int64_t(resolved.fallback_count());
    result.provenance = provenance_of(model, plan, options, calibration);
    result.seconds.total = seconds_since(start);
    return result;
}

}  // namespace qb
