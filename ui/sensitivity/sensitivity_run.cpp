#include "ui/sensitivity/sensitivity_run.h"

#include "core/analysis/calibration.h"
#include "core/infer/tokenizer.h"
#include "core/store/analysis_file.h"
#include "core/store/text_file.h"
#include "core/util/error.h"
#include "ui/jobs/job_phase.h"
#include "ui/session/cli_command.h"

namespace qbui {
namespace {

constexpr double kCalibrationShare = 0.3;  // of the progress bar

}  // namespace

SensitivityOutcome computeSensitivity(const qb::Model& model, const SensitivityRequest& request, qb::JobControl& control) {
    const qb::Tokenizer tokenizer = qb::model_tokenizer(model);
    const qb::EvalText calibrationTokens =
        qb::evaluation_text(tokenizer, qb::read_text_file(request.calibrationText.toStdString()).text);
    const qb::EvalText evaluationTokens = qb::evaluation_text(tokenizer, qb::read_text_file(request.evaluationText.toStdString()).text);

    qb::JobControl calibrating = job_phase(control, 0.0, kCalibrationShare);
    const qb::Transformer net(model, request.threads, &calibrating);
    qb::CalibrationOptions calibration;
    calibration.tokens = request.calibrationTokens;
    calibration.full_hessian = true;
    qb::Calibration inputs = qb::calibrate(net, calibrationTokens, calibration, &calibrating, request.threads);

    qb::JobControl analysing = job_phase(control, kCalibrationShare, 1.0);
    qb::SensitivityOptions options;
    options.measure = request.measure;
    options.evaluation.max_chunks = request.evaluationChunks;
    SensitivityOutcome outcome{qb::analyze_sensitivity(net, qb::hessian_source(inputs), evaluationTokens, options, &analysing, request.threads), {}};
    for (qb::ActivationStats& record : inputs.records) {
        record.hessian.reset();
        outcome.activations.push_back(std::move(record));
    }
    return outcome;
}

QString sensitivityCliCommand(const SensitivityRequest& request) {
    const QString calibrationFile = QStringLiteral("calibration.qbh5");
    QStringList sensitivity{QStringLiteral("sensitivity"), request.modelPath, QStringLiteral("--calib"), calibrationFile,
                            QStringLiteral("--text"), request.evaluationText, QStringLiteral("--eval-chunks"),
                            QString::number(request.evaluationChunks), QStringLiteral("--out"),
                            QString::fromLatin1(kSensitivityFile)};
    if (!request.measure) sensitivity << QStringLiteral("--estimates-only");
    return cliCommand({QStringLiteral("calibrate"), request.modelPath, QStringLiteral("--text"), request.calibrationText,
                       QStringLiteral("--tokens"), QString::number(request.calibrationTokens), QStringLiteral("--full-hessian"),
                       QStringLiteral("--out"), calibrationFile}) +
           QStringLiteral(" && ") + cliCommand(sensitivity);
}

AnalysisContents loadAnalysisFile(const QString& analysisFile) {
    const qb::AnalysisFile file(analysisFile.toStdString());
    AnalysisContents contents{file.sensitivity(), {}};
    for (const std::string& record : file.activation_records()) contents.activations.push_back(file.activations(record));
    return contents;
}

SensitivityOutcome loadSensitivity(const QString& analysisFile) {
    AnalysisContents contents = loadAnalysisFile(analysisFile);
    if (!contents.result)
        throw qb::Error(analysisFile.toStdString(), "holds no sensitivity table (run quantbench-cli sensitivity --out)");
    return {std::move(*contents.result), std::move(contents.activations)};
}

}  // namespace qbui
