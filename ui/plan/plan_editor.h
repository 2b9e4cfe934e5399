// The plan editor: presets, default format, export target and fallback on top; the per-tensor table
// (format and algorithm cells editable, several rows at once through the selection bar); regex rules,
// the live budget, the automatic assignment (with sensitivity results) and undo/redo beside it; plans load from and save to the JSON schema of
// core/plan/quant_plan.h, which `quantbench-cli plan MODEL --plan FILE` reads. Undo/redo buttons
// share the document's undo stack with the main window's Edit menu (which holds the shortcuts).
#pragma once
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QListView;
class QStringListModel;
class QTableView;

namespace qbui {

class AutoAssignPanel;
class BudgetPanel;
class PlanDocument;
class PlanTableModel;

class PlanEditor : public QWidget {
    Q_OBJECT
public:
    explicit PlanEditor(PlanDocument& document, QWidget* parent = nullptr);

    PlanTableModel* tableModel() const { return table_; }
    QTableView* tableView() const { return view_; }
    BudgetPanel* budget() const { return budget_; }
    AutoAssignPanel* autoAssign() const { return autoAssign_; }
    QStringList selectedTensors() const;

signals:
    void problem(const QString& message);  // a file could not be read or written, a rule did not parse
    void saved(const QString& path);

private:
    QWidget* makePlanBar();
    QWidget* makeSelectionBar();
    QWidget* makeSidePanel();
    void refreshControls();
    void applyToSelection(bool format);
    void addRuleFromText();
    void loadPlan();
    void savePlan();

    PlanDocument& document_;
    PlanTableModel* table_;
    QTableView* view_;
    BudgetPanel* budget_;
    AutoAssignPanel* autoAssign_;
    QComboBox* preset_;
    QComboBox* defaultFormat_;
    QComboBox* target_;
    QCheckBox* fallback_;
    QComboBox* bulkFormat_;
    QComboBox* bulkAlgorithm_;
    QStringListModel* rules_;
    QListView* rulesView_;
    QLineEdit* ruleText_;
};

}  // namespace qbui
