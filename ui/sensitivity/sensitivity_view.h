// The sensitivity view: a heat map of one metric over tensors (columns, forward order) × candidate
// formats (rows), with its colour scale (logarithmic for the error estimates); Spearman's ρ of every estimate
// against the measured Δppl and mean KLD; the sortable table of every entry below.
#pragma once
#include <QWidget>
#include <memory>

#include "core/analysis/sensitivity.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QTableView;

namespace qbui {

class SensitivityTableModel;

class SensitivityView : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityView(QWidget* parent = nullptr);

    void showResult(std::shared_ptr<const qb::SensitivityResult> result);
    const std::shared_ptr<const qb::SensitivityResult>& result() const { return result_; }
    QString metric() const;  // "hessian_error", "hawq", "mse", "delta_ppl", "mean_kld"
    QCPColorMap* colorMap() const { return colorMap_; }
    SensitivityTableModel* table() const { return table_; }
    QString correlationText() const;

signals:
    void metricChanged(const QString& metric);
    void computeRequested();
    void openRequested();

protected:
    void changeEvent(QEvent* event) override;

private:
    void draw();

    std::shared_ptr<const qb::SensitivityResult> result_;
    QComboBox* metric_;
    QCheckBox* logColours_;
    QLabel* correlation_;
    QCustomPlot* plot_;
    QCPColorMap* colorMap_;
    QCPColorScale* colorScale_;
    SensitivityTableModel* table_;
    QTableView* tableView_;
};

}  // namespace qbui
