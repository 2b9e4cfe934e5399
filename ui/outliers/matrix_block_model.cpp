#include "ui/outliers/matrix_block_model.h"

#include <QColor>
#include <cmath>

#include "ui/plots/plot_style.h"

namespace qbui {

void MatrixBlockModel::setBlock(std::shared_ptr<const qb::MatrixBlock> block) {
    beginResetModel();
    block_ = std::move(block);
    absMax_ = block_ ? block_->max_abs : 0;
    endResetModel();
}

int MatrixBlockModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !block_ ? 0 : int(block_->rows);
}

int MatrixBlockModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() || !block_ ? 0 : int(block_->cols);
}

QVariant MatrixBlockModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || !block_) return {};
    const float value = block_->at(index.row(), index.column());
    switch (role) {
    case Qt::DisplayRole: return QString::number(double(value), 'g', 5);
    case Qt::ToolTipRole:
        return tr("w[%1, %2] = %3").arg(block_->first_row + index.row()).arg(block_->first_col + index.column()).arg(double(value), 0, 'g', 9);
    case Qt::TextAlignmentRole: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::BackgroundRole: {
        if (absMax_ <= 0) return {};
        QColor shade = seriesColour(2);
        shade.setAlphaF(std::isfinite(value) ? 0.6f * std::fmin(1.0f, std::fabs(value) / absMax_) : 0.6f);
        return shade;
    }
    }
    return {};
}

QVariant MatrixBlockModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole || !block_) return {};
    return qlonglong(orientation == Qt::Horizontal ? block_->first_col + section : block_->first_row + section);
}

}  // namespace qbui
