// The per-format error table of a tensor (analyze_weights' format_errors): format, bits per weight,
// RMSE, max |error|, SQNR, cosine, or why the format was not measured. SortRole gives numbers.
#pragma once
#include <QAbstractTableModel>
#include <vector>

#include "core/analysis/format_error_table.h"

namespace qbui {

class FormatErrorModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { FormatColumn, BitsColumn, RmseColumn, MaxErrorColumn, SqnrColumn, CosineColumn, ProblemColumn,
                  ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void setErrors(std::vector<qb::FormatError> errors);
    const std::vector<qb::FormatError>& errors() const { return errors_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant value(const qb::FormatError& error, int column) const;

    std::vector<qb::FormatError> errors_;
};

}  // namespace qbui
