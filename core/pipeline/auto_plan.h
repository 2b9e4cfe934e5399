// Automatic plans: sensitivity estimates -> exact bit allocation -> a QuantPlan with one override per tensor.
//
// Every linear weight with a calibration Hessian gets one candidate per format of `candidates` its target
// can store, with a predicted loss (sensitivity.h): the Hessian-weighted error Σ Δw H Δw of that format
// (loss "hessian": no forward pass), or the measured mean KL divergence of the model with only that tensor
// quantized (loss "kld": one evaluation of the text per tensor and format). Other tensors (embeddings) stay at the base format. allocate_exact()
// then picks the formats minimising the summed loss within the budget.
// Budget: bits per weight of the stored tensors, or (GGUF) a limit on the whole file: the file's exact size
// (gguf_file_size) with header, metadata and padding is at most max_file_bytes.
// Memory: the allocation needs only the loss table (tensors x candidates, a few doubles each). auto_plan_streaming
// calibrates the text itself in groups of input records whose Hessians fit calibration.hessian_memory_bytes (one
// pass over the text per group, calibration.h) and turns each record into its rows of the table as soon as the
// calibration hands it over, dropping its Hessian: peak memory is one group's Hessians (or one record's, if larger)
// instead of every Hessian of the model (Llama-2-7B: ~28 GB of f64 Hessians in all, 1.4 GB per layer). Its losses,
// and so its plan, are those of auto_plan over a full in-memory calibration of the same text.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/pipeline/run_result.h"
#include "core/plan/allocation.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qb {

struct AutoPlanOptions {
    double target_bpw = 0;        // > 0: budget in bits per weight
    uint64_t max_file_bytes = 0;  // > 0 (GGUF only): budget on the file size
    std::vector<std::string> candidates;  // empty: default_sensitivity_formats()
    std::string base_format = "q8_0";     // tensors outside the allocation
    std::string algorithm = "rtn";
    std::string loss = "hessian";         // or "kld"
    PlanTarget target = PlanTarget::Gguf;
};

// What the loss table cost in Hessian memory (auto_plan_streaming; zeros for auto_plan). The quantize job
// (quantize_job.h) counts its grouped Hessians in the same fields.
struct AllocationMemory {
    int calibration_passes = 0;       // passes over the calibration text, one per group of records
    int64_t records = 0;              // input records turned into losses
    int64_t peak_hessians_held = 0;   // counted: Hessians the allocation held at once after calibration handed them over
    uint64_t peak_group_hessian_bytes = 0;  // the largest group the calibration accumulated at once (its grouping rule)
    uint64_t all_hessian_bytes = 0;         // what keeping every Hessian would take
};

struct AutoPlan {
    QuantPlan plan;
    Allocation allocation;
    uint64_t file_bytes = 0;  // GGUF target: the exact file size of the plan
    AllocationMemory memory;
    // Where auto_plan_streaming's calibration ran (calibration: the forward products on calibration.executor;
    // hessians: the Hessian sums by calibration.backend); empty for auto_plan, given its calibration. Loss
    // "kld"'s measurements run on the CPU.
    StageDevices devices;
};

// calibration must hold full Hessians for every linear weight's input. Throws Error("allocation", ...) when the
// budget cannot be met.
// `text`: what loss "kld" is measured on.
AutoPlan auto_plan(const Model& model, const Calibration& calibration, std::string_view text,
                   const AutoPlanOptions& options, JobControl* job = nullptr, int threads = 0);

// The same plan in bounded memory (see above): calibrates `calibration_text` with `calibration` (full Hessians,
// grouped by calibration.hessian_memory_bytes) instead of taking a calibration in memory, on its devices
// (calibration.executor, calibration.backend: the quantize job's, job_calibration_options). On the CPU the losses
// are the CPU's bytes; on a device its Hessians agree within f32 rounding (calibration.h), so a loss that close
// to another's may pick the other format.
AutoPlan auto_plan_streaming(const Model& model, std::string_view calibration_text, const CalibrationOptions& calibration,
                             std::string_view text, const AutoPlanOptions& options, JobControl* job = nullptr,
                             int threads = 0);

}  // namespace qb
