// One look for every QCustomPlot of the application (views and offscreen report plots): background,
// axes, grid and text from the widget's palette, so light and dark palettes both read well, and a
// fixed series palette so a format or run keeps its colour across plots.
#pragma once
#include <QColor>
#include <QPalette>

class QCustomPlot;

namespace qbui {

void applyPlotStyle(QCustomPlot& plot, const QPalette& palette);
QColor seriesColour(int index);  // 0: primary (weights), 1: overlay (quantized), 2: grid levels, ...
// Redraws on the next event-loop pass; a plot not laid out yet (a tab never shown) is skipped, its first
// resize redraws it.
void requestReplot(QCustomPlot& plot);

}  // namespace qbui
