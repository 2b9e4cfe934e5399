// The sensitivity entries as a sortable table: tensor, format, bits per weight, the estimates
// (Hessian-weighted error, HAWQ, MSE, kurtosis, outlier share) and the measurements (Δppl, mean KLD).
#pragma once
#include <QAbstractTableModel>
#include <memory>

#include "core/analysis/sensitivity.h"

namespace qbui {

class SensitivityTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TensorColumn, FormatColumn, BitsColumn, HessianColumn, HawqColumn, MseColumn, KurtosisColumn,
                  OutlierColumn, DeltaPplColumn, KldColumn, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void setResult(std::shared_ptr<const qb::SensitivityResult> result);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::shared_ptr<const qb::SensitivityResult> result_;
};

}  // namespace qbui
