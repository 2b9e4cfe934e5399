// An activation cell of the outlier map as a table: one row per input channel of the cell, with the
// calibration's summaries of that channel (core/analysis/outlier_cell.h's ActivationCell).
#pragma once
#include <QAbstractTableModel>
#include <optional>

#include "core/analysis/outlier_cell.h"

namespace qbui {

class ActivationCellModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { AbsMaxColumn, MeanAbsColumn, RmsColumn, OutlierTokensColumn, ColumnCount };

    using QAbstractTableModel::QAbstractTableModel;

    void setCell(std::optional<qb::ActivationCell> cell);
    const qb::ActivationCell* cell() const { return cell_ ? &*cell_ : nullptr; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::optional<qb::ActivationCell> cell_;
};

}  // namespace qbui
