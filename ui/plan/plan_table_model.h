// The plan editor's table: one row per tensor of the resolved plan with its format, algorithm, group
// size, bits per weight, exact bytes, predicted loss and the reason for the decision. Format and
// algorithm cells are editable (ChoicesRole lists what the target can store for that tensor and what
// can produce that format); an edit becomes a per-tensor override in the PlanDocument.
#pragma once
#include <QAbstractTableModel>
#include <QStringList>

namespace qb {
struct TensorAssignment;
}

namespace qbui {

class PlanDocument;

class PlanTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TensorColumn, ShapeColumn, FormatColumn, AlgorithmColumn, GroupColumn, BitsColumn, BytesColumn,
                  LossColumn, ReasonColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, ChoicesRole, TensorNameRole };

    explicit PlanTableModel(PlanDocument& document, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    QStringList formatChoices(const qb::TensorAssignment& tensor) const;
    QStringList algorithmChoices(const qb::TensorAssignment& tensor) const;

private:
    const qb::TensorAssignment& tensorAt(int row) const;
    QVariant display(const qb::TensorAssignment& t, int column) const;
    QVariant sortKey(const qb::TensorAssignment& t, int column) const;
    bool editable(const qb::TensorAssignment& t, int column) const;

    PlanDocument& document_;
    int rows_ = 0;
};

}  // namespace qbui
