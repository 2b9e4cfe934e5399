#include "ui/session/weight_analysis.h"

#include "ui/analysis/weight_view_stats.h"
#include "ui/jobs/job_runner.h"
#include "ui/session/cli_command.h"
#include "ui/settings/app_settings.h"

namespace qbui {

WeightAnalysis::WeightAnalysis(Workspace& workspace, JobRunner& runner, QObject* parent)
    : QObject(parent), workspace_(workspace), runner_(runner) {}

const qb::TensorView* WeightAnalysis::tensorView(const QString& tensor) const {
    return workspace_.model() ? workspace_.model()->find(tensor.toStdString()) : nullptr;
}

void WeightAnalysis::supersede(int& jobId, int newJobId) {
    if (jobId) runner_.cancel(jobId);
    jobId = newJobId;
}

void WeightAnalysis::requestStats(const QString& tensor) {
    const qb::TensorView* view = tensorView(tensor);
    if (!view) return;
    if (WeightStatsPtr cached = workspace_.weightStats(view->name)) {
        supersede(statsJob_, 0);
        emit statsReady(cached);
        return;
    }
    emit statsPending(tensor);
    const ModelPtr model = workspace_.model();
    const int threads = AppSettings().threads();
    JobSpec job{tr("Statistics of %1").arg(tensor), cliCommand(weightViewStatsCliArguments(workspace_.modelPath(), tensor)),
                [this, model, view, threads](qb::JobControl& control) -> JobDelivery {
                    auto stats = std::make_shared<const qb::WeightStats>(
                        qb::analyze_weights(*view, weightViewStatsOptions(), &control, threads));
                    return [this, model, stats] {
                        if (workspace_.model() != model) return;
                        workspace_.storeWeightStats(stats);
                        statsJob_ = 0;
                        emit statsReady(stats);
                    };
                }};
    supersede(statsJob_, runner_.submit(std::move(job)));
}

void WeightAnalysis::requestProbe(const QString& tensor, const qb::FormatProbeRequest& request) {
    const qb::TensorView* view = tensorView(tensor);
    if (!view) return;
    const ModelPtr model = workspace_.model();
    const int threads = AppSettings().threads();
    JobSpec job{tr("Probe %1 in %2").arg(tensor, QString::fromStdString(request.format)),
                cliCommand(probeCliArguments(workspace_.modelPath(), tensor, request)),
                [this, model, view, request, threads](qb::JobControl& control) -> JobDelivery {
                    auto probe = std::make_shared<const qb::FormatProbe>(qb::probe_format(*view, request, &control, threads));
                    return [this, model, probe] {
                        if (workspace_.model() != model) return;
                        probeJob_ = 0;
                        emit probeReady(probe);
                    };
                }};
    supersede(probeJob_, runner_.submit(std::move(job)));
}

void WeightAnalysis::requestCellValues(const QString& tensor, const qb::HeatMapCellRange& cell) {
    const qb::TensorView* view = tensorView(tensor);
    if (!view) return;
    const ModelPtr model = workspace_.model();
    JobSpec job{tr("Values of %1 rows %2–%3").arg(tensor).arg(cell.first_row).arg(cell.first_row + cell.rows - 1),
                cliCommand(cellCliArguments(workspace_.modelPath(), tensor, cell)),
                [this, model, view, cell](qb::JobControl&) -> JobDelivery {
                    auto block = std::make_shared<const qb::MatrixBlock>(qb::read_matrix_block(*view, cell));
                    return [this, model, block] {
                        if (workspace_.model() != model) return;
                        cellJob_ = 0;
                        emit cellValuesReady(block);
                    };
                }};
    supersede(cellJob_, runner_.submit(std::move(job)));
}

}  // namespace qbui
