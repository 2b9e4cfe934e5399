// A MatrixBlock as a table: matrix row and column indices as headers, the values as cells, and a
// background whose strength follows |w| relative to the block's largest |w|.
#pragma once
#include <QAbstractTableModel>
#include <memory>

#include "core/analysis/outlier_cell.h"

namespace qbui {

class MatrixBlockModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;

    void setBlock(std::shared_ptr<const qb::MatrixBlock> block);
    const qb::MatrixBlock* block() const { return block_.get(); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::shared_ptr<const qb::MatrixBlock> block_;
    float absMax_ = 0;
};

}  // namespace qbui
