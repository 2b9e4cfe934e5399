#include "ui/sensitivity/sensitivity_table_model.h"

#include <cmath>

#include "ui/common/units.h"

namespace qbui {
namespace {

QVariant valueOf(const qb::SensitivityEntry& e, int column) {
    switch (column) {
    case SensitivityTableModel::TensorColumn: return qtext(e.tensor);
    case SensitivityTableModel::FormatColumn: return qtext(e.format);
    case SensitivityTableModel::BitsColumn: return e.bits_per_weight;
    case SensitivityTableModel::HessianColumn: return e.hessian_error;
    case SensitivityTableModel::HawqColumn: return e.hawq;
    case SensitivityTableModel::MseColumn: return e.mse;
    case SensitivityTableModel::KurtosisColumn: return e.kurtosis;
    case SensitivityTableModel::OutlierColumn: return e.outlier_share;
    case SensitivityTableModel::DeltaPplColumn: return std::isnan(e.delta_ppl) ? QVariant() : QVariant(e.delta_ppl);
    case SensitivityTableModel::KldColumn: return std::isnan(e.mean_kld) ? QVariant() : QVariant(e.mean_kld);
    }
    return {};
}

}  // namespace

void SensitivityTableModel::setResult(std::shared_ptr<const qb::SensitivityResult> result) {
    beginResetModel();
    result_ = std::move(result);
    endResetModel();
}

int SensitivityTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !result_ ? 0 : int(result_->entries.size());
}

int SensitivityTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant SensitivityTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || !result_) return {};
    const QVariant v = valueOf(result_->entries[size_t(index.row())], index.column());
    if (role == SortRole) return v;
    if (role == Qt::TextAlignmentRole && index.column() >= BitsColumn) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole || !v.isValid()) return {};
    if (index.column() == BitsColumn) return QString::number(v.toDouble(), 'f', 3);
    if (index.column() == DeltaPplColumn) return QString::asprintf("%+.5f", v.toDouble());
    return v.typeId() == QMetaType::Double ? QVariant(numberText(v.toDouble(), 4)) : v;
}

QVariant SensitivityTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* const kTitles[ColumnCount] = {
        QT_TR_NOOP("Tensor"), QT_TR_NOOP("Format"), QT_TR_NOOP("Bits/w"), QT_TR_NOOP("Hessian error"), QT_TR_NOOP("HAWQ"),
        QT_TR_NOOP("MSE"), QT_TR_NOOP("Kurtosis"), QT_TR_NOOP("Outliers"), QT_TR_NOOP("Δppl"), QT_TR_NOOP("Mean KLD")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
