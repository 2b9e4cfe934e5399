#include "ui/explorer/tensor_tree_model.h"

#include <QColor>
#include <algorithm>

#include "core/model/architecture.h"
#include "ui/common/units.h"

namespace qbui {

void TensorTreeModel::setModel(ModelPtr model) {
    beginResetModel();
    model_ = std::move(model);
    nodes_.clear();
    topLevel_.clear();
    planEntries_.clear();
    sensitivity_.clear();
    maxSensitivity_ = 0;
    std::map<int, int> blockNodes;  // layer -> node
    for (size_t i = 0; model_ && i < model_->tensors.size(); ++i) {
        const qb::TensorView& view = model_->tensors[i];
        const int layer = qb::tensor_layer(view.name);
        int parent = -1;
        if (layer >= 0) {
            auto [it, added] = blockNodes.try_emplace(layer, -1);
            if (added) it->second = addNode(-1, -1, QStringLiteral("blk.%1").arg(layer));
            parent = it->second;
        }
        const int tensorNode = addNode(parent, int(i), qtext(view.name));
        for (int n = tensorNode; n >= 0; n = nodes_[size_t(n)].parent) {
            nodes_[size_t(n)].parameters += view.numel();
            nodes_[size_t(n)].bytes += view.stored_bytes();
        }
    }
    endResetModel();
}

int TensorTreeModel::addNode(int parent, int tensor, QString name) {
    const int index = int(nodes_.size());
    nodes_.push_back({parent, 0, tensor, std::move(name), {}, 0, 0});
    std::vector<int>& siblings = parent < 0 ? topLevel_ : nodes_[size_t(parent)].children;
    nodes_.back().row = int(siblings.size());
    siblings.push_back(index);
    return index;
}

void TensorTreeModel::setPlanEntries(std::map<std::string, QString> entries) {
    planEntries_ = std::move(entries);
    refreshColumn(PlanColumn);
}

void TensorTreeModel::setSensitivity(std::map<std::string, double> sensitivity) {
    sensitivity_ = std::move(sensitivity);
    maxSensitivity_ = 0;
    for (const auto& [name, value] : sensitivity_) maxSensitivity_ = std::max(maxSensitivity_, value);
    refreshColumn(SensitivityColumn);
}

// One dataChanged per parent (a range of rows), not per cell: every signal makes the filter proxy
// re-sort and re-filter, which per cell kept the GUI thread busy for ~100 ms per refresh.
void TensorTreeModel::refreshColumn(int column, const QModelIndex& parent) {
    const int rows = rowCount(parent);
    if (rows == 0) return;
    emit dataChanged(index(0, column, parent), index(rows - 1, column, parent));
    for (int row = 0; row < rows; ++row)
        if (const QModelIndex child = index(row, 0, parent); rowCount(child) > 0) refreshColumn(column, child);
}

QModelIndex TensorTreeModel::indexOfTensor(const QString& canonicalName) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].tensor >= 0 && nodes_[i].name == canonicalName) return createIndex(nodes_[i].row, 0, quintptr(i));
    return {};
}

const std::vector<int>& TensorTreeModel::childrenOf(const QModelIndex& parent) const {
    return parent.isValid() ? node(parent).children : topLevel_;
}

QModelIndex TensorTreeModel::index(int row, int column, const QModelIndex& parent) const {
    if (parent.isValid() && parent.column() != 0) return {};
    const std::vector<int>& children = childrenOf(parent);
    if (row < 0 || row >= int(children.size()) || column < 0 || column >= ColumnCount) return {};
    return createIndex(row, column, quintptr(children[size_t(row)]));
}

QModelIndex TensorTreeModel::parent(const QModelIndex& child) const {
    if (!child.isValid()) return {};
    const int parentNode = node(child).parent;
    if (parentNode < 0) return {};
    return createIndex(nodes_[size_t(parentNode)].row, 0, quintptr(parentNode));
}

int TensorTreeModel::rowCount(const QModelIndex& parent) const {
    if (parent.isValid() && parent.column() != 0) return 0;
    return int(childrenOf(parent).size());
}

int TensorTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant TensorTreeModel::display(const Node& n, int column) const {
    const std::string name = n.name.toStdString();
    if (column == NameColumn) return n.name;
    if (column == ParametersColumn) return countText(n.parameters);
    if (column == SizeColumn) return bytesText(n.bytes);
    if (column == SensitivityColumn) {
        const auto it = sensitivity_.find(name);
        return it == sensitivity_.end() ? QVariant() : numberText(it->second, 3);
    }
    if (column == PlanColumn) {
        const auto it = planEntries_.find(name);
        return it == planEntries_.end() ? QVariant() : it->second;
    }
    if (n.tensor < 0) return column == RoleColumn ? tr("block") : QVariant();
    const qb::TensorView& view = model_->tensors[size_t(n.tensor)];
    switch (column) {
    case RoleColumn: return qtext(qb::tensor_role(view.name));
    case ShapeColumn: return shapeText(view.shape);
    case TypeColumn: return view.format ? qtext(view.format->name) : tr("undecodable");
    }
    return {};
}

QVariant TensorTreeModel::sortKey(const Node& n, int column) const {
    switch (column) {
    case ParametersColumn: return qlonglong(n.parameters);
    case SizeColumn: return qulonglong(n.bytes);
    case SensitivityColumn: {
        const auto it = sensitivity_.find(n.name.toStdString());
        return it == sensitivity_.end() ? QVariant(-1.0) : QVariant(it->second);
    }
    case NameColumn: return n.row;  // canonical (file) order
    }
    return display(n, column);
}

QVariant TensorTreeModel::sensitivityColour(const Node& n) const {
    const auto it = sensitivity_.find(n.name.toStdString());
    if (it == sensitivity_.end() || maxSensitivity_ <= 0) return {};
    const double share = std::clamp(it->second / maxSensitivity_, 0.0, 1.0);
    return QColor::fromHsvF(float((1.0 - share) / 3.0), 0.65f, 0.85f);  // green (low) to red (high)
}

QVariant TensorTreeModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    const Node& n = node(index);
    switch (role) {
    case Qt::DisplayRole: return display(n, index.column());
    case CanonicalNameRole: return n.name;
    case SortRole: return sortKey(n, index.column());
    case IsTensorRole: return n.tensor >= 0;
    case Qt::TextAlignmentRole:
        return index.column() == ParametersColumn || index.column() == SizeColumn
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::BackgroundRole: return index.column() == SensitivityColumn ? sensitivityColour(n) : QVariant();
    case Qt::ForegroundRole:
        return index.column() == SensitivityColumn && sensitivityColour(n).isValid() ? QVariant(QColor(Qt::black)) : QVariant();
    case Qt::ToolTipRole:
        if (n.tensor >= 0) return qtext(model_->tensors[size_t(n.tensor)].source_name);
        return {};
    }
    return {};
}

QVariant TensorTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* const kTitles[ColumnCount] = {
        QT_TR_NOOP("Tensor"), QT_TR_NOOP("Role"), QT_TR_NOOP("Shape"), QT_TR_NOOP("Type"),
        QT_TR_NOOP("Parameters"), QT_TR_NOOP("Size"), QT_TR_NOOP("Plan"), QT_TR_NOOP("Sensitivity")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
