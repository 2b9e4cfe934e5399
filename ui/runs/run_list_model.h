// The session's runs and their comparison table: every perplexity evaluation of an open model and every
// quantize run, in order, with size, bits per weight, ppl ± stderr, Δppl (absolute and %), mean KLD,
// top-1 agreement and time. Runs are kept when another model is opened, so several models and plans
// compare side by side; quantize runs keep the path of their saved run record (for reports).
#pragma once
#include <QAbstractTableModel>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

#include "core/pipeline/run_result.h"
#include "ui/runs/evaluation.h"

namespace qbui {

struct SessionRun {
    std::optional<EvaluationResult> evaluation;     // a perplexity evaluation of an open model
    std::shared_ptr<const qb::RunResult> quantized;  // or a quantize run
    QString runFile;                                  // the quantize run's saved record
};

class RunListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ConfigColumn, OutputColumn, TargetColumn, SizeColumn, BitsColumn, PerplexityColumn, StderrColumn,
                  DeltaColumn, DeltaPercentColumn, KldColumn, Top1Column, SecondsColumn, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void addEvaluation(EvaluationResult result);
    void addQuantizeRun(std::shared_ptr<const qb::RunResult> run, const QString& runFile);
    const std::vector<SessionRun>& runs() const { return runs_; }
    std::vector<qb::RunResult> quantizeRuns() const;
    QStringList quantizeRunFiles() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    void append(SessionRun run);
    QVariant value(const SessionRun& run, int column) const;
    QString displayed(const QVariant& value, int column) const;

    std::vector<SessionRun> runs_;
};

}  // namespace qbui
