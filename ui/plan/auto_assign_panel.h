// The plan editor's automatic assignment: a bits-per-weight budget and an "Assign" button (enabled once
// sensitivity results exist), then the Pareto curve of predicted loss against bits per weight, with the
// assigned point marked; clicking another point of the curve applies that allocation instead. The
// assignment is core's (core/plan/sensitivity_assign.h), as `quantbench-cli plan --sensitivity` makes it.
#pragma once
#include <QWidget>
#include <memory>

#include "core/plan/sensitivity_assign.h"

class QCustomPlot;
class QDoubleSpinBox;
class QLabel;
class QMouseEvent;
class QPushButton;

namespace qbui {

class AutoAssignPanel : public QWidget {
    Q_OBJECT
public:
    explicit AutoAssignPanel(QWidget* parent = nullptr);

    void setAvailable(bool sensitivityAvailable);
    void showAssignment(std::shared_ptr<const qb::SensitivityAssignment> assignment);
    double targetBpw() const;
    QCustomPlot* plot() const { return plot_; }

signals:
    void assignRequested(double bitsPerWeight);
    void pointChosen(const qb::QuantPlan& plan, double bitsPerWeight);

protected:
    void changeEvent(QEvent* event) override;

private:
    void onPlotClick(QMouseEvent* event);
    void markPoint(double bpw, double loss);

    std::shared_ptr<const qb::SensitivityAssignment> assignment_;
    QDoubleSpinBox* bpw_;
    QPushButton* assign_;
    QLabel* status_;
    QCustomPlot* plot_;
};

}  // namespace qbui
