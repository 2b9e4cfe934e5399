// The statistics the weight view and the outlier map draw for one tensor: a linear histogram of w and
// a log-spaced histogram of |w| (256 bins each), moments and σ tails, 16 top channels each way, a
// 256 × 256 max-|w| heat map and the error of every format that fits the row length.
// `quantbench-cli stats MODEL --tensor '^NAME$' --log-abs --json --full` prints exactly these numbers;
// the format probe and the values of an outlier-map cell have their `stats` options too (--probe, --cell).
#pragma once
#include <QString>
#include <QStringList>

#include "core/analysis/format_probe.h"
#include "core/analysis/outlier_cell.h"
#include "core/analysis/weight_stats.h"

namespace qbui {

qb::WeightStatsOptions weightViewStatsOptions();
QStringList weightViewStatsCliArguments(const QString& modelPath, const QString& tensor);
// `stats ... --probe F --row R --group G [--probe-scale log-abs] --error-bins N --json`: the probe the view draws.
QStringList probeCliArguments(const QString& modelPath, const QString& tensor, const qb::FormatProbeRequest& request);
// `stats ... --cell ROW,COL --heatmap RxC --json`: the values behind one cell of the outlier map.
QStringList cellCliArguments(const QString& modelPath, const QString& tensor, const qb::HeatMapCellRange& cell);

}  // namespace qbui
