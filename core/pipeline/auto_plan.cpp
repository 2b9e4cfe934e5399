#include "core/pipeline/auto_plan.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "core/analysis/sensitivity.h"
#include "core/infer/tokenizer.h"
#include "core/pipeline/quantize_job.h"
#include "core/plan/plan_export.h"
#include "core/plan/sensitivity_assign.h"

namespace qb {
namespace {

using LossTable = std::map<std::pair<std::string, std::string>, double>;  // (tensor, format) -> loss

SensitivityOptions sensitivity_options(const AutoPlanOptions& options) {
    if (options.loss != "hessian" && options.loss != "kld")
        throw Error("allocation", "unknown loss '" + options.loss + "' (known: hessian, kld)");
    SensitivityOptions sensitivity;
    sensitivity.formats = options.candidates.empty() ? default_sensitivity_formats() : options.candidates;
    sensitivity.measure = options.loss == "kld";
    sensitivity.use_importance = options.algorithm != "rtn";
    return sensitivity;
}

void add_losses(LossTable& losses, const SensitivityResult& result, bool measured) {
    for (const auto& e : result.entries) losses[{e.tensor, e.format}] = measured ? e.mean_kld : e.hessian_error;
}

LossTable predicted_losses(const Model& model, const Calibration& calibration, std::string_view text,
                           const AutoPlanOptions& options, JobControl* job, int threads) {
    const SensitivityOptions sensitivity = sensitivity_options(options);
    const Transformer net(model, threads, job);
    const EvalText tokens = sensitivity.measure ? evaluation_text(model_tokenizer(model), text) : EvalText{};
    LossTable losses;
    add_losses(losses, analyze_sensitivity(net, hessian_source(calibration), tokens, sensitivity, job, threads),
               sensitivity.measure);
    return losses;
}

// The loss table record by record while the calibration runs: each record's Hessian is turned into its tensors'
// losses as soon as it arrives and dropped with the record.
LossTable streamed_losses(const Model& model, std::string_view calibration_text, CalibrationOptions calibration,
                          std::string_view text, const AutoPlanOptions& options, JobControl* job, int threads,
                          AllocationMemory& memory, StageDevices& devices) {
    const SensitivityOptions sensitivity = sensitivity_options(options);
    // With an executor the calibration keeps no decoded copy of the weights (as the quantize job); loss "kld"
    // measures on the CPU and keeps one.
    const Transformer net(model, threads, job, calibration.executor && !sensitivity.measure ? 0 : kResidentWeightBudget);
    const Tokenizer& tokenizer = model_tokenizer(model);
    const EvalText tokens = sensitivity.measure ? evaluation_text(tokenizer, text) : EvalText{};
    calibration.full_hessian = true;
    LossTable losses;
    int64_t held = 0;
    uint64_t group_bytes = 0;
    std::vector<int64_t> hessian_dims;
    const auto sink = [&](ActivationStats&& record) {
        if (!record.hessian) throw Error("calibration", "no full Hessian for " + record.record);
        ++held;  // this record's Hessian, until the end of this call
        memory.peak_hessians_held = std::max(memory.peak_hessians_held, held);
        const uint64_t bytes = uint64_t(record.channels * record.channels) * sizeof(double);
        if (group_bytes > 0 && group_bytes + bytes > calibration.hessian_memory_bytes) group_bytes = 0;  // next pass
        group_bytes += bytes;
        memory.peak_group_hessian_bytes = std::max(memory.peak_group_hessian_bytes, group_bytes);
        memory.all_hessian_bytes += bytes;
        ++memory.records;
        hessian_dims.push_back(record.channels);
        HessianSource source;
        source.records = {{record.record, record.tensors}};
        source.load = [&record](const std::string&) { return std::move(*record.hessian); };
        if (job) job->check("allocation");
        add_losses(losses, analyze_sensitivity(net, source, tokens, sensitivity, nullptr, threads), sensitivity.measure);
        record.hessian.reset();
        --held;
    };
    const CalibrationRun run =
        calibrate(net, evaluation_text(tokenizer, calibration_text), calibration, sink, job, threads);
    memory.calibration_passes = run.passes;
    devices = calibration_devices(calibration, hessian_dims);
    return losses;
}

// Candidates get their predicted loss; a tensor without any (no calibration record) stays at its base size.
AllocationProblem scored_problem(AllocationProblem skeleton, const ResolvedPlan& base, const LossTable& losses) {
    return scored_allocation_problem(std::move(skeleton), base, [&](const std::string& tensor, const std::string& format) {
        const auto it = losses.find({tensor, format});
        return it == losses.end() ? NAN : it->second;
    });
}

QuantPlan named_plan(QuantPlan plan, const AutoPlanOptions& options) {
    char name[64];
    if (options.max_file_bytes > 0) std::snprintf(name, sizeof name, "auto-%lluB", (unsigned long long)options.max_file_bytes);
    else std::snprintf(name, sizeof name, "auto-%.2fbpw", options.target_bpw);
    plan.name = options.algorithm == "rtn" ? name : name + ("+" + options.algorithm);
    return plan;
}

void check_budget(const AutoPlanOptions& options) {
    if ((options.target_bpw > 0) == (options.max_file_bytes > 0))
        throw Error("allocation", "give either a target in bits per weight or a file size");
    if (options.max_file_bytes > 0 && options.target != PlanTarget::Gguf)
        throw Error("allocation", "a file-size budget needs the gguf target");
}

AutoPlan allocated_plan(const Model& model, const LossTable& losses, const AutoPlanOptions& options) {
    QuantPlan base = uniform_plan(options.base_format);
    base.fallback = true;
    base.defaults.algorithm = options.algorithm;
    const ResolvedPlan base_resolved = resolve_plan(base, model, options.target);
    const std::vector<std::string> formats =
        options.candidates.empty() ? default_sensitivity_formats() : options.candidates;
    const AllocationProblem problem =
        scored_problem(allocation_problem(base_resolved, model, formats), base_resolved, losses);
    AutoPlan result;
    if (options.max_file_bytes == 0) {
        result.allocation = allocate_exact(problem, AllocationBudget::bits_per_weight(options.target_bpw));
        result.plan = named_plan(allocation_plan(problem, result.allocation, base), options);
        return result;
    }
    // The file adds header, metadata and per-tensor padding to the tensor bytes; the padding depends on the
    // choice, so shrink the tensor budget by any excess until the exact file size fits.
    const GgufFileSize base_size = gguf_file_size(base_resolved, model);
    const uint64_t overhead = base_size.file_bytes - base_size.tensor_bytes;
    if (options.max_file_bytes <= overhead)
        throw Error("allocation", "the file's header and metadata alone take " + std::to_string(overhead) + " bytes");
    uint64_t limit = options.max_file_bytes - overhead;
    for (int attempt = 0; attempt < 8; ++attempt) {
        result.allocation = allocate_exact(problem, AllocationBudget::bytes(limit));
        result.plan = named_plan(allocation_plan(problem, result.allocation, base), options);
        result.file_bytes = gguf_file_size(resolve_plan(result.plan, model, options.target), model).file_bytes;
        if (result.file_bytes <= options.max_file_bytes) return result;
        limit -= std::min(limit, result.file_bytes - options.max_file_bytes);
    }
    throw Error("allocation", "no allocation found whose file fits " + std::to_string(options.max_file_bytes) + " bytes");
}

}  // namespace

AutoPlan auto_plan(const Model& model, const Calibration& calibration, std::string_view text,
                   const AutoPlanOptions& options, JobControl* job, int threads) {
    check_budget(options);
    return allocated_plan(model, predicted_losses(model, calibration, text, options, job, threads), options);
}

AutoPlan auto_plan_streaming(const Model& model, std::string_view calibration_text, const CalibrationOptions& calibration,
                             std::string_view text, const AutoPlanOptions& options, JobControl* job, int threads) {
    check_budget(options);
    AllocationMemory memory;
    StageDevices devices;
    const LossTable losses =
        streamed_losses(model, calibration_text, calibration, text, options, job, threads, memory, devices);
    AutoPlan result = allocated_plan(model, losses, options);
    result.memory = memory;
    result.devices = devices;
    return result;
}

}  // namespace qb
