// Turns the weight views' requests into jobs and hands the results back: statistics of the selected
// tensor (cached in the Workspace), format probes, and the values of one outlier-map cell. A new
// request supersedes the previous one of the same kind (the old job is cancelled), and results that
// arrive for a model that is no longer open are dropped. Each job records the `quantbench-cli stats`
// command that prints the same numbers (core/analysis/format_probe.h, outlier_cell.h).
#pragma once
#include <QObject>
#include <QString>
#include <memory>

#include "core/analysis/format_probe.h"
#include "core/analysis/outlier_cell.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/session/workspace.h"

namespace qbui {

class JobRunner;

class WeightAnalysis : public QObject {
    Q_OBJECT
public:
    WeightAnalysis(Workspace& workspace, JobRunner& runner, QObject* parent = nullptr);

    void requestStats(const QString& tensor);
    void requestProbe(const QString& tensor, const qb::FormatProbeRequest& request);
    void requestCellValues(const QString& tensor, const qb::HeatMapCellRange& cell);

signals:
    void statsPending(const QString& tensor);
    void statsReady(qbui::WeightStatsPtr stats);
    void probeReady(std::shared_ptr<const qb::FormatProbe> probe);
    void cellValuesReady(std::shared_ptr<const qb::MatrixBlock> block);

private:
    const qb::TensorView* tensorView(const QString& tensor) const;
    void supersede(int& jobId, int newJobId);

    Workspace& workspace_;
    JobRunner& runner_;
    int statsJob_ = 0;
    int probeJob_ = 0;
    int cellJob_ = 0;
};

}  // namespace qbui
