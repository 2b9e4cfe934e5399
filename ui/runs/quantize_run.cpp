#include "ui/runs/quantize_run.h"

#include "core/infer/forward.h"
#include "core/infer/tokenizer.h"
#include "core/pipeline/auto_plan.h"
#include "core/pipeline/quantize_job.h"
#include "core/util/error.h"
#include "gpu/gpu_linear.h"
#include "gpu/vulkan_backend.h"
#include "ui/jobs/job_phase.h"
#include "ui/session/cli_command.h"

namespace qbui {
namespace {

constexpr double kAutomaticPlanShare = 0.5;  // of the progress bar, for calibration and allocation

QString targetArgument(qb::PlanTarget target) {
    const std::optional<qb::ExportTarget> exporter = qb::plan_exporter(target);
    if (!exporter) throw qb::Error("quantize", "the analysis target writes no file: choose gguf, safetensors or gptq");
    const std::string_view name = qb::export_target_name(*exporter);
    return QString::fromLatin1(name.data(), qsizetype(name.size()));
}

qb::QuantizeJobOptions jobOptions(const RunRequest& request) {
    qb::QuantizeJobOptions options;
    options.output = request.output.toStdString();
    if (!request.calibrationText.isEmpty()) options.calibration_text = qb::read_text_file(request.calibrationText.toStdString());
    options.calibration.tokens = request.calibrationTokens;
    if (!request.evaluationText.isEmpty()) options.evaluation_text = qb::read_text_file(request.evaluationText.toStdString());
    options.evaluation.ctx = request.contextLength;
    options.evaluation.protocol = qb::protocol_by_name(request.protocol.toStdString());
    options.evaluation.max_chunks = request.maxChunks;
    options.kld = request.kld;
    options.command_line = cliCommand(quantizeCliArguments(request)).toStdString();
    options.threads = request.threads;
    return options;
}

qb::RunResult runAutomatic(const qb::Model& model, const RunRequest& request, const qb::QuantizeJobOptions& options,
                           qb::JobControl& control, qb::QuantPlan& chosen) {
    if (!options.calibration_text) throw qb::Error("quantize", "an automatic plan needs a calibration text");
    qb::JobControl planning = job_phase(control, 0.0, kAutomaticPlanShare);
    // On the job's devices (forward products on its executor, Hessians on its backend), as the job would calibrate.
    const qb::CalibrationOptions on_device = qb::job_calibration_options(options);
    const qb::Transformer net(model, request.threads, &planning, options.executor ? 0 : qb::kResidentWeightBudget);
    const qb::Calibration calibration = qb::calibrate(
        net, qb::evaluation_text(qb::model_tokenizer(model), options.calibration_text->text), on_device, &planning, request.threads);
    qb::AutoPlanOptions automatic;
    automatic.target_bpw = request.targetBpw;
    automatic.target = request.target;
    chosen = qb::auto_plan(model, calibration, options.calibration_text->text, automatic, &planning, request.threads).plan;
    qb::JobControl running = job_phase(control, kAutomaticPlanShare, 1.0);
    qb::RunResult run = qb::run_quantize_job(model, chosen, qb::resolve_plan(chosen, model, request.target), options, &running, &calibration);
    std::vector<int64_t> hessian_dims;
    for (const qb::ActivationStats& record : calibration.records)
        if (record.hessian) hessian_dims.push_back(record.hessian->dim);
    run.devices.add_missing(qb::calibration_devices(on_device, hessian_dims));  // the allocation's calibration
    return run;
}

}  // namespace

QString planPathFor(const QString& output) { return output + QStringLiteral(".plan.json"); }
QString runPathFor(const QString& output) { return output + QStringLiteral(".run.json"); }

qb::RunResult runQuantize(const qb::Model& model, const RunRequest& request, qb::JobControl& control) {
    const qb::gpu::BackendChoice device =
        qb::gpu::select_backend(request.device.toStdString(), {.cpu_threads = request.threads});
    qb::QuantizeJobOptions options = jobOptions(request);
    options.backend = device.backend.get();
    const std::unique_ptr<qb::gpu::GpuLinearExecutor> executor = qb::gpu::linear_executor_for(*device.backend);
    options.executor = executor.get();  // calibration's and evaluation's forward passes
    qb::QuantPlan chosen;
    qb::RunResult run;
    if (request.plan) {
        chosen = *request.plan;
        run = qb::run_quantize_job(model, chosen, qb::resolve_plan(chosen, model, request.target), options, &control);
    } else {
        run = runAutomatic(model, request, options, control, chosen);
    }
    if (request.plan) qb::save_plan(chosen, planPathFor(request.output).toStdString());
    qb::save_run_result(run, runPathFor(request.output).toStdString());
    return run;
}

QStringList quantizeCliArguments(const RunRequest& request) {
    QStringList arguments{QStringLiteral("quantize"), request.modelPath};
    if (request.plan) arguments << QStringLiteral("--plan") << planPathFor(request.output);
    else arguments << QStringLiteral("--target-bpw") << QString::number(request.targetBpw);
    arguments << QStringLiteral("--out") << request.output << QStringLiteral("--to") << targetArgument(request.target);
    if (!request.calibrationText.isEmpty())
        arguments << QStringLiteral("--calib") << request.calibrationText << QStringLiteral("--calib-tokens")
                  << QString::number(request.calibrationTokens);
    if (!request.evaluationText.isEmpty()) {
        arguments << QStringLiteral("--eval") << request.evaluationText << QStringLiteral("--ctx") << QString::number(request.contextLength)
                  << QStringLiteral("--protocol") << request.protocol;
        if (request.maxChunks > 0) arguments << QStringLiteral("--chunks") << QString::number(request.maxChunks);
        if (request.kld) arguments << QStringLiteral("--kld");
    }
    if (request.threads > 0) arguments << QStringLiteral("--threads") << QString::number(request.threads);
    if (request.device != QStringLiteral("cpu")) arguments << QStringLiteral("--device") << request.device;
    arguments << QStringLiteral("--save-run") << runPathFor(request.output);
    return arguments;
}

}  // namespace qbui
