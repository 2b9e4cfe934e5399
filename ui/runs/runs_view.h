// Run & compare: the comparison table of the session's runs and, above it, perplexity against file size
// for every run (quantize runs labelled with their configuration; the runs no other run beats in both
// size and perplexity joined as the Pareto front). Buttons start a run and export the report.
#pragma once
#include <QWidget>

class QCustomPlot;
class QTableView;

namespace qbui {

class RunListModel;

class RunsView : public QWidget {
    Q_OBJECT
public:
    explicit RunsView(RunListModel& runs, QWidget* parent = nullptr);

    QCustomPlot* paretoPlot() const { return plot_; }
    QTableView* table() const { return table_; }

signals:
    void runRequested();
    void reportRequested();

protected:
    void changeEvent(QEvent* event) override;

private:
    void redraw();

    RunListModel& runs_;
    QCustomPlot* plot_;
    QTableView* table_;
};

}  // namespace qbui
