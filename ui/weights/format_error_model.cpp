#include "ui/weights/format_error_model.h"

#include "ui/common/units.h"

namespace qbui {

void FormatErrorModel::setErrors(std::vector<qb::FormatError> errors) {
    beginResetModel();
    errors_ = std::move(errors);
    endResetModel();
}

int FormatErrorModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(errors_.size()); }

int FormatErrorModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant FormatErrorModel::value(const qb::FormatError& error, int column) const {
    if (column == FormatColumn) return qtext(error.format);
    if (column == ProblemColumn) return qtext(error.problem);
    if (!error.problem.empty()) return {};
    const qb::ErrorMetrics& m = error.metrics;
    switch (column) {
    case BitsColumn: return m.bits_per_weight;
    case RmseColumn: return m.rmse;
    case MaxErrorColumn: return m.max_abs_error;
    case SqnrColumn: return m.sqnr_db;
    case CosineColumn: return m.cosine;
    }
    return {};
}

QVariant FormatErrorModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(errors_.size())) return {};
    const qb::FormatError& error = errors_[size_t(index.row())];
    const QVariant v = value(error, index.column());
    if (role == SortRole) return v;
    if (role == Qt::TextAlignmentRole && index.column() != FormatColumn && index.column() != ProblemColumn)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole) return {};
    if (v.typeId() != QMetaType::Double) return v;
    switch (index.column()) {
    case BitsColumn: return QString::number(v.toDouble(), 'f', 3);
    case SqnrColumn: return numberText(v.toDouble(), 4);
    case CosineColumn: return QString::number(v.toDouble(), 'f', 6);
    }
    return numberText(v.toDouble(), 4);
}

QVariant FormatErrorModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* const kTitles[ColumnCount] = {QT_TR_NOOP("Format"), QT_TR_NOOP("Bits/w"), QT_TR_NOOP("RMSE"),
                                                     QT_TR_NOOP("Max |err|"), QT_TR_NOOP("SQNR dB"),
                                                     QT_TR_NOOP("Cosine"), QT_TR_NOOP("Not measured because")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
