// Pieces the quantize and compare commands share: the job options, calibration and printing of a run.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "app/cli/args.h"
#include "core/pipeline/quantize_job.h"
#include "core/plan/resolved_plan.h"
#include "gpu/gpu_linear.h"
#include "gpu/vulkan_backend.h"

namespace qbcli {

// Options both commands take: calib, calib-tokens, calib-ctx, hessian-memory-mb, eval, ctx, protocol, chunks, threads, algo,
// fallback; flags kld, fallback.
ArgSpec pipeline_arg_spec(ArgSpec own);

qb::QuantizeJobOptions job_options(const Args& args, const std::string& command_line);

// The jobs' device from --device cpu|vulkan|auto (default cpu; qb::gpu::select_backend, its fallback notice and
// the device on stderr): encoding, GPTQ and Hessians on its backend, calibration's and evaluation's forward
// products on its executor (one for all the command's jobs). Sets options.backend and options.executor, which
// point into the result.
struct JobDevice {
    qb::gpu::BackendChoice choice;
    std::unique_ptr<qb::gpu::GpuLinearExecutor> executor;
};
JobDevice job_device(const Args& args, qb::QuantizeJobOptions& options);
qb::PlanTarget plan_target_of(const Args& args);  // --to gguf (default) | safetensors | gptq

// --algo replaces the plan's default algorithm (and names the configuration after it).
qb::QuantPlan with_algorithm(qb::QuantPlan plan, const Args& args);

// Every record, when `needed`, with its Hessian when `hessians` (GPTQ): shared by the configurations of one
// command, on the jobs' devices (qb::job_calibration_options). Without Hessians the records are small
// (per-channel statistics); with them they take every Hessian.
std::optional<qb::Calibration> full_calibration(const qb::Model& model, const qb::QuantizeJobOptions& options,
                                                bool needed, bool hessians);

qb::RunResult run_configuration(const qb::Model& model, const qb::QuantPlan& plan, qb::PlanTarget target,
                                qb::QuantizeJobOptions options, const qb::Calibration* calibration);

void print_run(const qb::RunResult& run);

}  // namespace qbcli
