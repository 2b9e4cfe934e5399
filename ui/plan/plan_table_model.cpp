#include "ui/plan/plan_table_model.h"

#include <cmath>

#include "core/algo/algorithm.h"
#include "ui/common/units.h"
#include "ui/plan/plan_document.h"

namespace qbui {
namespace {

QString groupText(const qb::FormatInfo& format) {
    if (format.header_bytes > 0) return QObject::tr("tensor");
    if (format.block_values == 0) return QObject::tr("row");
    if (format.block_values == 1) return QStringLiteral("–");
    return QString::number(format.block_values);
}

QString formatText(const qb::TensorAssignment& t) {
    return t.keep ? QStringLiteral("keep (%1)").arg(qtext(t.format->name)) : qtext(t.format->name);
}

}  // namespace

PlanTableModel::PlanTableModel(PlanDocument& document, QObject* parent) : QAbstractTableModel(parent), document_(document) {
    connect(&document_, &PlanDocument::changed, this, [this] {
        const int rows = document_.hasPlan() ? int(document_.resolved().tensors.size()) : 0;
        if (rows != rows_) {
            beginResetModel();
            rows_ = rows;
            endResetModel();
        } else if (rows > 0) {
            emit dataChanged(index(0, 0), index(rows - 1, ColumnCount - 1));
        }
    });
}

const qb::TensorAssignment& PlanTableModel::tensorAt(int row) const { return document_.resolved().tensors[size_t(row)]; }

int PlanTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : rows_; }

int PlanTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QStringList PlanTableModel::formatChoices(const qb::TensorAssignment& t) const {
    QStringList choices{QString::fromLatin1(qb::kKeepFormat.data(), qsizetype(qb::kKeepFormat.size()))};
    const qb::TensorView& view = document_.model()->tensor(t.name);
    for (const qb::FormatInfo* f : qb::registered_formats())
        if (f->can_encode() && qb::target_storage_problem(*f, view, document_.state().target).empty()) choices << qtext(f->name);
    return choices;
}

QStringList PlanTableModel::algorithmChoices(const qb::TensorAssignment& t) const {
    QStringList choices;
    for (const qb::Algorithm& a : qb::algorithms())
        if (t.format && qb::algorithm_format_problem(a, *t.format).empty()) choices << qtext(std::string(a.name));
    return choices;
}

bool PlanTableModel::editable(const qb::TensorAssignment& t, int column) const {
    if (t.origin == qb::DecisionOrigin::NotQuantized) return false;
    return column == FormatColumn || (column == AlgorithmColumn && t.quantized());
}

QVariant PlanTableModel::display(const qb::TensorAssignment& t, int column) const {
    switch (column) {
    case TensorColumn: return qtext(t.name);
    case ShapeColumn: return shapeText(t.shape);
    case FormatColumn: return formatText(t);
    case AlgorithmColumn: return qtext(t.algorithm);
    case GroupColumn: return t.quantized() ? groupText(*t.format) : QString();
    case BitsColumn: return QString::number(t.bits_per_weight(), 'f', 3);
    case BytesColumn: return countText(int64_t(t.bytes));
    case LossColumn: {
        const double loss = t.quantized() ? document_.predictedLoss(t.name, t.format->name) : NAN;
        return std::isnan(loss) ? QVariant() : numberText(loss, 4);
    }
    case ReasonColumn: return qtext(t.reason());
    }
    return {};
}

QVariant PlanTableModel::sortKey(const qb::TensorAssignment& t, int column) const {
    switch (column) {
    case TensorColumn: return int(&t - document_.resolved().tensors.data());  // model order
    case BitsColumn: return t.bits_per_weight();
    case BytesColumn: return qulonglong(t.bytes);
    case LossColumn: return t.quantized() ? document_.predictedLoss(t.name, t.format->name) : NAN;
    }
    return display(t, column);
}

QVariant PlanTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rows_) return {};
    const qb::TensorAssignment& t = tensorAt(index.row());
    switch (role) {
    case Qt::DisplayRole: return display(t, index.column());
    case Qt::EditRole:
        return index.column() == FormatColumn ? QVariant(t.keep ? QStringLiteral("keep") : qtext(t.format->name))
                                              : display(t, index.column());
    case SortRole: return sortKey(t, index.column());
    case TensorNameRole: return qtext(t.name);
    case ChoicesRole:
        if (index.column() == FormatColumn) return formatChoices(t);
        if (index.column() == AlgorithmColumn) return algorithmChoices(t);
        return {};
    case Qt::TextAlignmentRole:
        return index.column() >= GroupColumn && index.column() <= LossColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::ToolTipRole: return qtext(t.reason());
    }
    return {};
}

bool PlanTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || !index.isValid() || !editable(tensorAt(index.row()), index.column())) return false;
    qb::PlanChoice choice;
    if (index.column() == FormatColumn) choice.format = value.toString().toStdString();
    else choice.algorithm = value.toString().toStdString();
    return document_.setTensorChoice({qtext(tensorAt(index.row()).name)}, choice);
}

Qt::ItemFlags PlanTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags flags = QAbstractTableModel::flags(index);
    if (index.isValid() && index.row() < rows_ && editable(tensorAt(index.row()), index.column())) flags |= Qt::ItemIsEditable;
    return flags;
}

QVariant PlanTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* const kTitles[ColumnCount] = {
        QT_TR_NOOP("Tensor"), QT_TR_NOOP("Shape"), QT_TR_NOOP("Format"), QT_TR_NOOP("Algorithm"), QT_TR_NOOP("Group"),
        QT_TR_NOOP("Bits/w"), QT_TR_NOOP("Bytes"), QT_TR_NOOP("Predicted loss"), QT_TR_NOOP("Why")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
