#include "ui/weights/histogram_plot.h"

#include <QVBoxLayout>
#include <algorithm>
#include <qcustomplot.h>

#include "ui/plots/plot_style.h"

namespace qbui {
namespace {

enum Graph { HistogramGraph, OverlayGraph, MarksGraph };

QColor translucent(QColor colour, int alpha) {
    colour.setAlpha(alpha);
    return colour;
}

}  // namespace

HistogramPlot::HistogramPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    plot_->plotLayout()->insertRow(0);
    title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, title_);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    plot_->yAxis->setLabel(tr("count"));
    plot_->yAxis2->setRange(0, 1);  // marks span the full height whatever the count axis does
    plot_->legend->setVisible(true);
    plot_->legend->setFont(QFont(font().family(), std::max(6, font().pointSize() - 1)));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    QCPGraph* histogram = plot_->addGraph();
    histogram->setLineStyle(QCPGraph::lsStepLeft);
    histogram->setPen(QPen(seriesColour(0), 1.2));
    histogram->setBrush(translucent(seriesColour(0), 90));
    QCPGraph* overlay = plot_->addGraph();
    overlay->setLineStyle(QCPGraph::lsStepLeft);
    overlay->setPen(QPen(seriesColour(1), 1.4));
    QCPGraph* marks = plot_->addGraph(plot_->xAxis, plot_->yAxis2);
    marks->setLineStyle(QCPGraph::lsImpulse);
    marks->setPen(QPen(translucent(seriesColour(2), 200), 1, Qt::DashLine));
    clear();

    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] { resetZoom(); });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    applyPlotStyle(*plot_, palette());
}

void HistogramPlot::setTitle(const QString& title) { title_->setText(title); }

void HistogramPlot::fillSteps(int graph, const qb::Histogram& histogram) {
    const size_t bins = histogram.counts.size();
    QVector<double> keys(qsizetype(bins + 1)), values(qsizetype(bins + 1));
    for (size_t i = 0; i < bins; ++i) {
        keys[qsizetype(i)] = histogram.edges[i];
        values[qsizetype(i)] = double(histogram.counts[i]);
    }
    keys[qsizetype(bins)] = histogram.edges[bins];
    values[qsizetype(bins)] = bins ? double(histogram.counts[bins - 1]) : 0.0;
    plot_->graph(graph)->setData(keys, values, true);
}

void HistogramPlot::setHistogram(const qb::Histogram& histogram, const QString& name, const QString& xLabel) {
    fillSteps(HistogramGraph, histogram);
    plot_->legend->setVisible(true);
    plot_->graph(HistogramGraph)->setName(name);
    plot_->graph(HistogramGraph)->addToLegend();
    const bool logX = histogram.scale == qb::HistogramScale::LogAbs;
    plot_->xAxis->setScaleType(logX ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot_->xAxis->setTicker(logX ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog) : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    plot_->xAxis->setLabel(xLabel);
    maxCount_ = std::max(1.0, double(*std::max_element(histogram.counts.begin(), histogram.counts.end())));
    setOverlay(nullptr, {});
    setMarks({}, {});
    resetZoom();
}

void HistogramPlot::setOverlay(const qb::Histogram* histogram, const QString& name) {
    QCPGraph* overlay = plot_->graph(OverlayGraph);
    overlayMaxCount_ = 0;
    if (histogram) {
        fillSteps(OverlayGraph, *histogram);
        overlayMaxCount_ = double(*std::max_element(histogram->counts.begin(), histogram->counts.end()));
        overlay->setName(name);
        overlay->addToLegend();
    } else {
        overlay->data()->clear();
        overlay->removeFromLegend();
    }
    updateValueRange();
    requestReplot(*plot_);
}

void HistogramPlot::setMarks(const std::vector<float>& positions, const QString& name) {
    QCPGraph* marks = plot_->graph(MarksGraph);
    QVector<double> keys(positions.begin(), positions.end()), heights(qsizetype(positions.size()), 1.0);
    marks->setData(keys, heights, true);
    marks->setName(name);
    positions.empty() ? marks->removeFromLegend() : marks->addToLegend();
    requestReplot(*plot_);
}

void HistogramPlot::setLogCounts(bool logCounts) {
    logCounts_ = logCounts;
    plot_->yAxis->setScaleType(logCounts ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot_->yAxis->setTicker(logCounts ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog) : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    updateValueRange();
    requestReplot(*plot_);
}

void HistogramPlot::updateValueRange() {
    const double top = std::max(maxCount_, overlayMaxCount_);
    if (logCounts_) plot_->yAxis->setRange(0.5, top * 2.0);
    else plot_->yAxis->setRange(0, top * 1.05);
}

void HistogramPlot::resetZoom() {
    plot_->graph(HistogramGraph)->rescaleKeyAxis();
    updateValueRange();
    requestReplot(*plot_);
}

void HistogramPlot::clear() {
    for (int g = 0; g < plot_->graphCount(); ++g) {
        plot_->graph(g)->data()->clear();
        plot_->graph(g)->removeFromLegend();
    }
    title_->setText(QString());
    plot_->legend->setVisible(false);
    requestReplot(*plot_);
}

void HistogramPlot::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) {
        applyPlotStyle(*plot_, palette());
        requestReplot(*plot_);
    }
    QWidget::changeEvent(event);
}

}  // namespace qbui
