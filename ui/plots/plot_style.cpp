#include "ui/plots/plot_style.h"

#include <qcustomplot.h>

namespace qbui {
namespace {

void styleAxis(QCPAxis* axis, const QColor& text, const QColor& grid) {
    const QPen axisPen(text, 1);
    axis->setBasePen(axisPen);
    axis->setTickPen(axisPen);
    axis->setSubTickPen(axisPen);
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    axis->grid()->setZeroLinePen(QPen(grid, 1, Qt::SolidLine));
}

}  // namespace

void applyPlotStyle(QCustomPlot& plot, const QPalette& palette) {
    const QColor background = palette.color(QPalette::Base);
    const QColor text = palette.color(QPalette::Text);
    QColor grid = palette.color(QPalette::Mid);
    plot.setBackground(background);
    for (QCPAxisRect* rect : plot.axisRects()) {
        rect->setBackground(background);
        for (QCPAxis* axis : rect->axes()) styleAxis(axis, text, grid);
    }
    if (plot.legend) {
        plot.legend->setBrush(QColor(background.red(), background.green(), background.blue(), 220));
        plot.legend->setTextColor(text);
        plot.legend->setBorderPen(QPen(grid));
    }
    for (int i = 0; i < plot.plotLayout()->elementCount(); ++i)
        if (auto* title = qobject_cast<QCPTextElement*>(plot.plotLayout()->elementAt(i))) title->setTextColor(text);
}

QColor seriesColour(int index) {
    static const QColor kColours[] = {QColor(0x3b, 0x82, 0xf6), QColor(0xf5, 0x9e, 0x0b), QColor(0xef, 0x44, 0x44),
                                      QColor(0x10, 0xb9, 0x81), QColor(0x8b, 0x5c, 0xf6), QColor(0xec, 0x48, 0x99)};
    return kColours[size_t(index) % std::size(kColours)];
}

void requestReplot(QCustomPlot& plot) {
    if (!plot.size().isEmpty()) plot.replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace qbui
