// Automatic plans: sensitivity estimates -> exact bit allocation -> a QuantPlan with one override per tensor.
//
// Every linear weight with a calibration Hessian gets one candidate per format of `candidates` its target
// can store, with a predicted loss (sensitivity.h): the Hessian-weighted error Σ Δw H Δw of that format
// (loss "hessian": no forward pass), or the measured mean KL divergence of the model with only that tensor
// quantized (loss "kld": one evaluation of the text per tensor and format). Other tensors (embeddings) stay at the base format. allocate_exact()
// then picks the formats minimising the summed loss within the budget.
// Budget: bits per weight of the stored tensors, or (GGUF) a limit on the whole file: the file's exact size
// (gguf_file_size) with header, metadata and padding is at most max_file_bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
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

struct AutoPlan {
    QuantPlan plan;
    Allocation allocation;
    uint64_t file_bytes = 0;  // GGUF target: the exact file size of the plan
};

// calibration must hold full Hessians for every linear weight's input. Throws Error("allocation", ...) when the
// budget cannot be met.
// `text`: what loss "kld" is measured on.
AutoPlan auto_plan(const Model& model, const Calibration& calibration, std::string_view text,
                   const AutoPlanOptions& options, JobControl* job = nullptr, int threads = 0);

}  // namespace qb
