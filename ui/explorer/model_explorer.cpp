#include "ui/explorer/model_explorer.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QTreeView>
#include <QVBoxLayout>

#include "ui/explorer/tensor_tree_model.h"

namespace qbui {

ModelExplorer::ModelExplorer(QWidget* parent)
    : QWidget(parent), model_(new TensorTreeModel(this)), proxy_(new QSortFilterProxyModel(this)),
      view_(new QTreeView(this)), filter_(new QLineEdit(this)) {
    proxy_->setSourceModel(model_);
    proxy_->setRecursiveFilteringEnabled(true);
    proxy_->setAutoAcceptChildRows(true);
    proxy_->setFilterRole(TensorTreeModel::CanonicalNameRole);
    proxy_->setSortRole(TensorTreeModel::SortRole);

    filter_->setPlaceholderText(tr("Filter tensors (regex), e.g. attn_(q|k) or ^blk\\.[0-3]\\."));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, this, &ModelExplorer::applyFilter);

    view_->setModel(proxy_);
    view_->setSortingEnabled(true);
    view_->sortByColumn(TensorTreeModel::NameColumn, Qt::AscendingOrder);
    view_->setUniformRowHeights(true);
    view_->setAlternatingRowColors(true);
    view_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    view_->header()->setStretchLastSection(false);
    connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { onCurrentChanged(current); });
    connect(model_, &QAbstractItemModel::modelReset, view_, &QTreeView::expandAll);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(filter_);
    layout->addWidget(view_);
}

void ModelExplorer::applyFilter(const QString& pattern) {
    const QRegularExpression expression(pattern);
    const bool valid = expression.isValid();
    filter_->setToolTip(valid ? QString() : tr("Invalid regular expression: %1").arg(expression.errorString()));
    filter_->setStyleSheet(valid ? QString() : QStringLiteral("QLineEdit { color: #e5484d; }"));
    proxy_->setFilterRegularExpression(valid ? expression : QRegularExpression());
    view_->expandAll();
}

void ModelExplorer::onCurrentChanged(const QModelIndex& current) {
    if (current.data(TensorTreeModel::IsTensorRole).toBool())
        emit tensorSelected(current.data(TensorTreeModel::CanonicalNameRole).toString());
}

bool ModelExplorer::selectTensor(const QString& canonicalName) {
    const QModelIndex index = proxy_->mapFromSource(model_->indexOfTensor(canonicalName));
    if (!index.isValid()) return false;
    view_->setCurrentIndex(index);
    view_->scrollTo(index);
    return true;
}

QString ModelExplorer::selectedTensor() const {
    const QModelIndex current = view_->currentIndex();
    return current.data(TensorTreeModel::IsTensorRole).toBool()
               ? current.data(TensorTreeModel::CanonicalNameRole).toString() : QString();
}

}  // namespace qbui
