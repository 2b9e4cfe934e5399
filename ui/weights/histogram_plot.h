// A histogram drawn as a filled step curve (QCustomPlot), with an optional second histogram on the
// same bins (quantized values) and optional vertical marks (grid levels). Counts on a linear or log
// axis; wheel zooms, drag pans, double-click restores the full view. The x axis is logarithmic for
// log-spaced (|w|) histograms.
// Graphs, in order (tests read them): 0 the histogram, 1 the overlay, 2 the marks (on the right
// axis, height 1). Step point i is (edges[i], counts[i]); a last point (edges[n], counts[n-1])
// closes the final bin.
#pragma once
#include <QString>
#include <QWidget>
#include <vector>

#include "core/analysis/histogram.h"

class QCustomPlot;
class QCPTextElement;

namespace qbui {

class HistogramPlot : public QWidget {
    Q_OBJECT
public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    void setTitle(const QString& title);
    void setHistogram(const qb::Histogram& histogram, const QString& name, const QString& xLabel);
    void setOverlay(const qb::Histogram* histogram, const QString& name);  // nullptr: none
    void setMarks(const std::vector<float>& positions, const QString& name);  // empty: none
    void setLogCounts(bool logCounts);
    void clear();
    void resetZoom();

    QCustomPlot* plot() const { return plot_; }
    bool logCounts() const { return logCounts_; }

protected:
    void changeEvent(QEvent* event) override;

private:
    void fillSteps(int graph, const qb::Histogram& histogram);
    void updateValueRange();

    QCustomPlot* plot_;
    QCPTextElement* title_;
    bool logCounts_ = false;
    double maxCount_ = 1;         // of the histogram
    double overlayMaxCount_ = 0;  // of the overlay, 0 without one
};

}  // namespace qbui
