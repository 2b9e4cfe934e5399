// The model explorer panel: a regex filter over canonical tensor names above the tensor tree.
// Selecting a tensor emits tensorSelected; an invalid pattern is shown in the filter box and
// leaves the tree unfiltered.
#pragma once
#include <QWidget>

class QLineEdit;
class QSortFilterProxyModel;
class QTreeView;

namespace qbui {

class TensorTreeModel;

class ModelExplorer : public QWidget {
    Q_OBJECT
public:
    explicit ModelExplorer(QWidget* parent = nullptr);

    TensorTreeModel* treeModel() const { return model_; }
    QTreeView* treeView() const { return view_; }
    QLineEdit* filterEdit() const { return filter_; }
    bool selectTensor(const QString& canonicalName);  // false when the model has no such tensor
    QString selectedTensor() const;                    // empty when none (or a block) is selected

signals:
    void tensorSelected(const QString& canonicalName);

private:
    void applyFilter(const QString& pattern);
    void onCurrentChanged(const QModelIndex& current);

    TensorTreeModel* model_;
    QSortFilterProxyModel* proxy_;
    QTreeView* view_;
    QLineEdit* filter_;
};

}  // namespace qbui
