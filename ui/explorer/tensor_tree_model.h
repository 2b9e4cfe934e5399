// The model explorer's tree: tensors outside the blocks at the top level (token_embd, output_norm,
// output), each block "blk.N" as a node holding its tensors. Columns show the canonical name, role,
// shape, storage type, parameters and bytes (block rows sum their tensors), the tensor's plan entry
// and its sensitivity (a value on a green → red scale). Plan and sensitivity columns stay empty until
// a plan or sensitivity results are set.
#pragma once
#include <QAbstractItemModel>
#include <map>
#include <string>
#include <vector>

#include "ui/session/workspace.h"

namespace qbui {

class TensorTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { NameColumn, RoleColumn, ShapeColumn, TypeColumn, ParametersColumn, SizeColumn, PlanColumn,
                  SensitivityColumn, ColumnCount };
    enum Role {
        CanonicalNameRole = Qt::UserRole + 1,  // "blk.0.attn_q", or "blk.0" for a block row
        SortRole,                              // numbers for numeric columns, else the display text
        IsTensorRole,
    };

    using QAbstractItemModel::QAbstractItemModel;

    void setModel(ModelPtr model);
    void setPlanEntries(std::map<std::string, QString> entries);     // canonical name -> "q4_k (gptq)"
    void setSensitivity(std::map<std::string, double> sensitivity);  // canonical name -> estimated loss
    QModelIndex indexOfTensor(const QString& canonicalName) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Node {
        int parent = -1;  // node index, -1 at the top level
        int row = 0;      // position under the parent
        int tensor = -1;  // index into the model's tensors, -1 for a block
        QString name;     // canonical name or "blk.N"
        std::vector<int> children;
        int64_t parameters = 0;
        uint64_t bytes = 0;
    };

    int addNode(int parent, int tensor, QString name);
    const std::vector<int>& childrenOf(const QModelIndex& parent) const;
    const Node& node(const QModelIndex& index) const { return nodes_[size_t(index.internalId())]; }
    QVariant display(const Node& node, int column) const;
    QVariant sortKey(const Node& node, int column) const;
    QVariant sensitivityColour(const Node& node) const;
    void refreshColumn(int column, const QModelIndex& parent = {});

    ModelPtr model_;
    std::vector<Node> nodes_;
    std::vector<int> topLevel_;
    std::map<std::string, QString> planEntries_;
    std::map<std::string, double> sensitivity_;
    double maxSensitivity_ = 0;
};

}  // namespace qbui
