// The session's run list: every evaluation the user ran, in order, with what it measured. Runs are
// kept when another model is opened, so results of several models can be compared side by side.
#pragma once
#include <QAbstractTableModel>
#include <vector>

#include "ui/runs/evaluation.h"

namespace qbui {

class RunListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ModelColumn, TextColumn, ProtocolColumn, ContextColumn, ChunksColumn, TokensColumn,
                  PerplexityColumn, StderrColumn, SecondsColumn, SpeedColumn, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void addEvaluation(EvaluationResult result);
    const std::vector<EvaluationResult>& runs() const { return runs_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant value(const EvaluationResult& run, int column) const;

    std::vector<EvaluationResult> runs_;
};

}  // namespace qbui
