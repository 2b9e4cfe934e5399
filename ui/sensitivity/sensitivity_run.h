// Sensitivity of the open model, as `quantbench-cli calibrate --full-hessian` followed by
// `quantbench-cli sensitivity` computes it: calibrate on a text (full Hessians, kept in memory), then
// per linear weight and candidate format the Hessian-based estimates and (unless estimates only) the
// measured Δppl / mean KLD of the model with only that tensor quantized, with Spearman's ρ.
// Results computed by the CLI load from its analysis file (*.qbh5) instead.
#pragma once
#include <QString>
#include <QStringList>
#include <optional>

#include <vector>

#include "core/analysis/calibration.h"
#include "core/analysis/sensitivity.h"
#include "core/jobs/job.h"
#include "core/model/model.h"

namespace qbui {

struct SensitivityRequest {
    QString modelPath;
    QString calibrationText;
    int calibrationTokens = 8192;
    QString evaluationText;
    int evaluationChunks = 4;  // of 128 tokens (the CLI's default)
    bool measure = true;
    int threads = 0;
};

struct SensitivityOutcome {
    qb::SensitivityResult result;
    std::vector<qb::ActivationStats> activations;  // the calibration's summaries, Hessians dropped
};

// Throws qb::Error or qb::Cancelled.
SensitivityOutcome computeSensitivity(const qb::Model& model, const SensitivityRequest& request, qb::JobControl& control);
// The two CLI commands, joined by &&; the calibration file is the one the CLI would need to write.
// The file the recorded command leaves the sensitivity table in (`sensitivity --out`).
inline constexpr const char* kSensitivityFile = "sensitivity.qbh5";
QString sensitivityCliCommand(const SensitivityRequest& request);
// The sensitivity table and activation summaries of an analysis file; throws qb::Error when it has no
// sensitivity table.
SensitivityOutcome loadSensitivity(const QString& analysisFile);
// What an analysis file holds: a sensitivity table (`sensitivity --out`) and/or the activation summaries
// of a calibration (`calibrate --out`). Throws qb::Error for a file that is not an analysis file.
struct AnalysisContents {
    std::optional<qb::SensitivityResult> result;
    std::vector<qb::ActivationStats> activations;  // Hessians dropped
};
AnalysisContents loadAnalysisFile(const QString& analysisFile);

}  // namespace qbui
