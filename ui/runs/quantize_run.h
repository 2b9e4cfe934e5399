// A quantize run from the GUI, as `quantbench-cli quantize` does it: the plan being edited (or an
// automatic plan for a bits-per-weight budget) through core's pipeline (calibration when an algorithm
// needs it, algorithms, atomic export, round trip, perplexity / KLD of the reloaded file against the
// base). After success the plan and the run record are saved beside the output (OUT.plan.json,
// OUT.run.json), so the recorded command regenerates the run and `quantbench-cli report OUT.run.json`
// renders it; a failed or cancelled run leaves no file at all. The run computes on request.device.
#pragma once
#include <QString>
#include <QStringList>
#include <optional>

#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/pipeline/run_result.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qbui {

struct RunRequest {
    QString modelPath;
    QString output;                  // .gguf file, or folder for safetensors / gptq
    qb::PlanTarget target = qb::PlanTarget::Gguf;
    std::optional<qb::QuantPlan> plan;  // none: automatic plan for targetBpw
    double targetBpw = 0;
    QString calibrationText;         // needed by algorithms that use calibration, and by automatic plans
    int calibrationTokens = 65536;
    QString evaluationText;          // empty: no evaluation
    QString protocol = QStringLiteral("llama.cpp");
    int contextLength = 512;
    int maxChunks = 0;
    bool kld = false;
    int threads = 0;
    // Where encoding and GPTQ's block updates run: "auto", "vulkan" or "cpu" (qb::gpu::select_backend;
    // without a Vulkan device the CPU, as the status bar's probe of the same preference says).
    QString device = QStringLiteral("cpu");
};

QString planPathFor(const QString& output);  // OUT.plan.json
QString runPathFor(const QString& output);   // OUT.run.json

// Throws qb::Error (nothing written: also for the analysis target, which has no output) or qb::Cancelled.
qb::RunResult runQuantize(const qb::Model& model, const RunRequest& request, qb::JobControl& control);
QStringList quantizeCliArguments(const RunRequest& request);

}  // namespace qbui
