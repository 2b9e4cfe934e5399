#include "ui/outliers/activation_cell_model.h"

#include <cmath>

namespace qbui {

void ActivationCellModel::setCell(std::optional<qb::ActivationCell> cell) {
    beginResetModel();
    cell_ = std::move(cell);
    endResetModel();
}

int ActivationCellModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !cell_ ? 0 : int(cell_->channels.size());
}

int ActivationCellModel::columnCount(const QModelIndex& parent) const { return parent.isValid() || !cell_ ? 0 : ColumnCount; }

QVariant ActivationCellModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || !cell_) return {};
    const qb::ChannelSummary& c = cell_->channels[size_t(index.row())];
    if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::EditRole) return {};
    const bool raw = role == Qt::EditRole;
    auto number = [raw](double v) -> QVariant { return raw ? QVariant(v) : QVariant(QString::number(v, 'g', 5)); };
    switch (index.column()) {
    case AbsMaxColumn: return number(double(c.abs_max));
    case MeanAbsColumn: return number(c.mean_abs);
    case RmsColumn: return number(std::sqrt(c.mean_sq));
    case OutlierTokensColumn: return qlonglong(c.outlier_tokens);
    }
    return {};
}

QVariant ActivationCellModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole || !cell_) return {};
    if (orientation == Qt::Vertical) return qlonglong(cell_->channels[size_t(section)].channel);
    switch (section) {
    case AbsMaxColumn: return tr("max |x|");
    case MeanAbsColumn: return tr("mean |x|");
    case RmsColumn: return tr("rms x");
    case OutlierTokensColumn: return tr("outlier tokens");
    }
    return {};
}

}  // namespace qbui
