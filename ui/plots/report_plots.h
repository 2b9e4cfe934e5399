// Report figures rendered offscreen with QCustomPlot (a QApplication must exist; the CLI starts one on the
// offscreen platform): size vs Δppl with the Pareto front of the runs, per-layer error bars and the histogram
// of per-tensor SQNR of one run. The path's suffix picks the file type: .png, .pdf or .svg (QSvgGenerator:
// vector paths, labels as <text>). Throws qb::Error(path, ...) for another suffix or a failed write.
#pragma once
#include <span>

#include <QString>

#include "core/pipeline/run_result.h"

namespace qbui {

void saveParetoPlot(std::span<const qb::RunResult> runs, const QString& path);
void saveLayerErrorPlot(const qb::RunResult& run, const QString& path);
void saveErrorHistogramPlot(const qb::RunResult& run, const QString& path);

}  // namespace qbui
