#include "ui/plots/report_plots.h"

#include <algorithm>
#include <cmath>

#include <QApplication>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "core/util/error.h"
#include "ui/plots/plot_style.h"

namespace qbui {
namespace {

constexpr int kWidth = 900, kHeight = 560;
constexpr double kSmallestDelta = 1e-4;  // Δppl is drawn on a log axis: no change (or a gain) sits at this floor

double drawn_delta(const qb::RunResult& r) { return std::max(r.evaluation.delta_ppl, kSmallestDelta); }

// Vector output as savePdf draws it (no cached layers, non-cosmetic pens); text stays <text> elements.
bool save_svg(QCustomPlot& plot, const QString& path, const QString& title) {
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(QSize(kWidth, kHeight));
    generator.setViewBox(QRect(0, 0, kWidth, kHeight));
    generator.setTitle(title);
    generator.setDescription("Quantbench report plot");
    QCPPainter painter;
    if (!painter.begin(&generator)) return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setMode(QCPPainter::pmNonCosmetic);
    plot.toPainter(&painter, kWidth, kHeight);
    return painter.end();
}

void save(QCustomPlot& plot, const QString& path, const QString& title) {
    plot.replot();
    const QString suffix = QFileInfo(path).suffix().toLower();
    bool saved = false;
    if (suffix == "png") saved = plot.savePng(path, kWidth, kHeight);
    else if (suffix == "pdf") saved = plot.savePdf(path, kWidth, kHeight);
    else if (suffix == "svg") saved = save_svg(plot, path, title);
    else throw qb::Error(path.toStdString(), "plots are written as .png, .pdf or .svg");
    if (!saved) throw qb::Error(path.toStdString(), "cannot write the plot");
}

void prepare(QCustomPlot& plot, const QString& title, const QString& x, const QString& y) {
    plot.resize(kWidth, kHeight);
    applyPlotStyle(plot, QApplication::palette());
    plot.plotLayout()->insertRow(0);
    plot.plotLayout()->addElement(0, 0, new QCPTextElement(&plot, title));
    plot.xAxis->setLabel(x);
    plot.yAxis->setLabel(y);
}

// Runs no other run beats in both size and Δppl, by size.
std::vector<const qb::RunResult*> pareto_front(std::span<const qb::RunResult> runs) {
    std::vector<const qb::RunResult*> sorted;
    for (const auto& r : runs)
        if (r.evaluation.done) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
        return a->bits_per_weight != b->bits_per_weight ? a->bits_per_weight < b->bits_per_weight
                                                        : a->evaluation.delta_ppl < b->evaluation.delta_ppl;
    });
    std::vector<const qb::RunResult*> front;
    for (auto* r : sorted)
        if (front.empty() || r->evaluation.delta_ppl < front.back()->evaluation.delta_ppl) front.push_back(r);
    return front;
}

double layer_error(const qb::TensorRun& t) { return std::isnan(t.hessian_error) ? t.mse : t.hessian_error; }

}  // namespace

void saveParetoPlot(std::span<const qb::RunResult> runs, const QString& path) {
    QCustomPlot plot;
    const QString title = "Size vs Δppl";
    prepare(plot, title, "bits per weight", "Δppl (log scale)");
    plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    QCPGraph* points = plot.addGraph();
    points->setLineStyle(QCPGraph::lsNone);
    points->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, seriesColour(0), 7));
    for (const auto& r : runs) {
        if (!r.evaluation.done) continue;
        points->addData(r.bits_per_weight, drawn_delta(r));
        auto* label = new QCPItemText(&plot);
        label->position->setCoords(r.bits_per_weight, drawn_delta(r));
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->setText(QString::fromStdString(r.config));
        label->setColor(QApplication::palette().color(QPalette::Text));
    }
    QCPGraph* front = plot.addGraph();
    front->setPen(QPen(seriesColour(1), 2));
    for (const auto* r : pareto_front(runs)) front->addData(r->bits_per_weight, drawn_delta(*r));
    plot.rescaleAxes();
    plot.xAxis->scaleRange(1.15);
    plot.yAxis->scaleRange(2.0);
    save(plot, path, title);
}

void saveLayerErrorPlot(const qb::RunResult& run, const QString& path) {
    QCustomPlot plot;
    const QString title = QString::fromStdString("Per-layer error: " + run.config);
    prepare(plot, title, "tensor",
            "Hessian-weighted error (else weight MSE)");
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    auto* bars = new QCPBars(plot.xAxis, plot.yAxis);
    bars->setBrush(seriesColour(0));
    bars->setPen(Qt::NoPen);
    int position = 0;
    for (const auto& t : run.tensors) {
        if (std::isnan(layer_error(t))) continue;
        bars->addData(position, layer_error(t));
        ticker->addTick(position++, QString::fromStdString(t.name + " (" + t.format + ")"));
    }
    plot.xAxis->setTicker(ticker);
    plot.xAxis->setTickLabelRotation(60);
    plot.xAxis->setRange(-1, position);
    plot.yAxis->rescale();
    plot.yAxis->setRangeLower(0);
    save(plot, path, title);
}

void saveErrorHistogramPlot(const qb::RunResult& run, const QString& path) {
    std::vector<double> sqnr;
    for (const auto& t : run.tensors)
        if (std::isfinite(t.sqnr_db)) sqnr.push_back(t.sqnr_db);
    QCustomPlot plot;
    const QString title = QString::fromStdString("Per-tensor SQNR: " + run.config);
    prepare(plot, title, "SQNR (dB)", "tensors");
    auto* bars = new QCPBars(plot.xAxis, plot.yAxis);
    bars->setBrush(seriesColour(0));
    if (!sqnr.empty()) {
        const auto [lo, hi] = std::minmax_element(sqnr.begin(), sqnr.end());
        const int bins = 20;
        const double width = std::max(*hi - *lo, 1e-9) / bins;
        std::vector<double> counts(bins, 0);
        for (double v : sqnr) counts[std::min(bins - 1, int((v - *lo) / width))] += 1;
        for (int b = 0; b < bins; ++b) bars->addData(*lo + (b + 0.5) * width, counts[b]);
        bars->setWidth(width);
    }
    plot.rescaleAxes();
    plot.yAxis->setRangeLower(0);
    save(plot, path, title);
}

}  // namespace qbui
