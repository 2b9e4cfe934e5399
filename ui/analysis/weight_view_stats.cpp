#include "ui/analysis/weight_view_stats.h"

#include "ui/session/cli_command.h"

namespace qbui {

qb::WeightStatsOptions weightViewStatsOptions() {
    qb::WeightStatsOptions options;
    qb::HistogramSpec linear;
    qb::HistogramSpec logAbs;
    logAbs.scale = qb::HistogramScale::LogAbs;
    logAbs.log_counts = true;
    options.histograms = {linear, logAbs};
    return options;
}

QStringList weightViewStatsCliArguments(const QString& modelPath, const QString& tensor) {
    return {QStringLiteral("stats"), modelPath, QStringLiteral("--tensor"), exactNamePattern(tensor),
            QStringLiteral("--log-abs"), QStringLiteral("--json"), QStringLiteral("--full")};
}

}  // namespace qbui
