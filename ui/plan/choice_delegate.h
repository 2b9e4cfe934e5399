// Edits a cell by picking from the list its model gives under PlanTableModel::ChoicesRole (formats the
// target can store for that tensor, algorithms that can produce its format).
#pragma once
#include <QStyledItemDelegate>

namespace qbui {

class ChoiceDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
};

}  // namespace qbui
