// The quantize pipeline: a model and a resolved plan in, a validated quantized model file and a RunResult out.
//
//   1. calibration (only when an algorithm of the plan needs a Hessian or activation statistics): the base
//      model runs over the calibration text (calibrate() with a sink); only the records of the planned
//      tensors are kept, with their summaries (per-channel vectors for AWQ / imatrix) for all of them;
//   2. export: for each tensor in file order the plan's algorithm (core/algo registry) encodes the source
//      weights inside the exporter's producer, so one tensor's weights are in memory at a time; the file is
//      written atomically; a tensor no linear layer multiplies (token_embd) has no calibration input and
//      takes rtn when its algorithm needs one;
//      Hessians (GPTQ) are bounded by calibration.hessian_memory_bytes: the records whose tensors need one are
//      grouped in file order (the exporters call the producers one at a time in that order), consecutive
//      records whose Hessians fit the budget together (at least one per group, calibrate()'s rule); the first
//      calibration also accumulates the first group's Hessians, and when a producer needs a Hessian of a later
//      group, the previous group is dropped and the text is run again for that group's Hessians only. Peak:
//      one group's Hessians (or one record's, if larger). When every Hessian fits, that is one pass, as
//      before. Exception: a plan whose AWQ fold search would use Hessians (awq beside a Hessian algorithm)
//      needs them all before export and calibrates them up front (plan_needs_eager_hessians);
//   3. round-trip validation: the written file is reloaded and compared with what was intended;
//   4. evaluation (optional) of the RELOADED file: perplexity on a text, and the base model's perplexity
//      over the same tokens for Δppl; with kld, KL(base || quantized) and top-1 agreement.
// Devices: calibration's and evaluation's forward passes run their weight products on options.executor, the
// Hessians are summed by options.backend and the algorithms encode on it (RunResult::devices says where each
// stage ran). On the CPU (both nullptr, or the CPU backend) the bytes are those of the CPU code; on a device
// the Hessians and activations agree with the CPU's within f32 rounding (backend.h's HessianSums), so
// Hessian-based algorithms (GPTQ) can flip an occasional code and deterministic ones may too where
// calibration feeds them (AWQ scales, imatrix importance).
// Cancellation (JobControl::cancel) and any error after the file was written remove the output, so an
// interrupted or failed job leaves no output file. AWQ's input scales are folded into the layers producing
// those inputs (core/pipeline/awq_folding.h) before export, so the file is a standard model.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "core/analysis/calibration.h"
#include "core/infer/perplexity.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/pipeline/auto_plan.h"
#include "core/pipeline/run_result.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"
#include "core/store/text_file.h"

namespace qb {

class Backend;
class LinearExecutor;

struct QuantizeJobOptions {
    std::filesystem::path output;
    std::optional<TextFile> calibration_text;  // required when an algorithm needs calibration
    CalibrationOptions calibration;
    std::optional<TextFile> evaluation_text;   // none: no evaluation
    EvalOptions evaluation;                    // ctx, protocol, max_chunks (job and forward.threads are set here)
    bool kld = false;
    std::string command_line;                  // recorded as provenance
    int threads = 0;                           // <= 0: all hardware threads
    // Where the algorithms encode and GPTQ updates (core/backend/backend.h, e.g. gpu::select_backend's
    // choice; not owned). nullptr: the CPU code. The CPU and Vulkan backends write the same bytes for
    // deterministic algorithms (rtn, imatrix); GPTQ's agree as its updater states.
    Backend* backend = nullptr;
    // Where calibration's and evaluation's forward passes run their weight products (not owned; e.g. a
    // gpu::GpuLinearExecutor on the backend's device, one per job). nullptr: the CPU.
    LinearExecutor* executor = nullptr;
    // Out (not owned), when given: the Hessian memory of the job (AllocationMemory's counters: passes over
    // the text, records given a Hessian, peak Hessians and bytes held at once, all Hessians' bytes); zeros
    // when the job calibrates no Hessian itself (none needed, or all in the given calibration).
    AllocationMemory* hessian_memory = nullptr;
};

// True when some tensor's algorithm needs calibration inputs.
bool plan_needs_calibration(const ResolvedPlan& plan);

// True when the plan's AWQ fold search would use Hessians (an awq tensor beside an algorithm needing one):
// such a plan calibrates every Hessian before export instead of group by group.
bool plan_needs_eager_hessians(const ResolvedPlan& plan);

// Per-input-record calibration of the base model, keeping the records of `tensors` only (with Hessians
// when `hessians`). Progress and cancellation through job.
Calibration calibrate_for(const Model& model, const TextFile& text, const CalibrationOptions& options,
                          const std::vector<std::string>& tensors, bool hessians, JobControl* job, int threads);

// The job's calibration options on its devices: options.calibration with options.executor for the forward
// products and options.backend for the Hessian sums, as the job calibrates itself. A calibration run for the
// job (an automatic plan's, one shared by several jobs) uses them too.
CalibrationOptions job_calibration_options(const QuantizeJobOptions& options);

// Where a calibration with `options` computes (RunResult::devices' calibration and hessians): the forward
// products on the executor's device ("CPU" without one); the Hessians of `hessian_dims` (one input width per
// record given a Hessian) on the backend's device where it accelerates them, "<device> and CPU" when only some,
// empty when there are none.
StageDevices calibration_devices(const CalibrationOptions& options, const std::vector<int64_t>& hessian_dims);

// Runs the pipeline above. `plan` is the QuantPlan `resolved` came from (recorded as provenance); `resolved`
// must have an exporter target. `calibration`, when given, is used instead of running one; a Hessian a
// tensor needs that it lacks is calibrated group by group as above (options.calibration_text).
// Throws Error naming the problem, Cancelled when cancelled; neither leaves an output.
RunResult run_quantize_job(const Model& model, const QuantPlan& plan, const ResolvedPlan& resolved,
                           const QuantizeJobOptions& options, JobControl* job = nullptr,
                           const Calibration* calibration = nullptr);

}  // namespace qb
