// The statistics the weight view and the outlier map draw for one tensor: a linear histogram of w and
// a log-spaced histogram of |w| (256 bins each), moments and σ tails, 16 top channels each way, a
// 256 × 256 max-|w| heat map and the error of every format that fits the row length.
// `quantbench-cli stats MODEL --tensor '^NAME$' --log-abs --json --full` prints exactly these numbers.
#pragma once
#include <QString>
#include <QStringList>

#include "core/analysis/weight_stats.h"

namespace qbui {

qb::WeightStatsOptions weightViewStatsOptions();
QStringList weightViewStatsCliArguments(const QString& modelPath, const QString& tensor);

}  // namespace qbui
