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

QStringList probeCliArguments(const QString& modelPath, const QString& tensor, const qb::FormatProbeRequest& request) {
    QStringList arguments{QStringLiteral("stats"), modelPath, QStringLiteral("--tensor"), exactNamePattern(tensor),
                          QStringLiteral("--log-abs"), QStringLiteral("--probe"), QString::fromStdString(request.format),
                          QStringLiteral("--row"), QString::number(request.row), QStringLiteral("--group"),
                          QString::number(request.group)};
    if (request.value_scale == qb::HistogramScale::LogAbs) arguments << QStringLiteral("--probe-scale") << QStringLiteral("log-abs");
    arguments << QStringLiteral("--error-bins") << QString::number(request.error_bins) << QStringLiteral("--json");
    return arguments;
}

QStringList cellCliArguments(const QString& modelPath, const QString& tensor, const qb::HeatMapCellRange& cell) {
    const qb::HeatMapSpec map = weightViewStatsOptions().heat_map;
    return {QStringLiteral("stats"), modelPath, QStringLiteral("--tensor"), exactNamePattern(tensor),
            QStringLiteral("--cell"), QStringLiteral("%1,%2").arg(cell.cell_row).arg(cell.cell_col),
            QStringLiteral("--heatmap"), QStringLiteral("%1x%2").arg(map.max_rows).arg(map.max_cols), QStringLiteral("--json")};
}

}  // namespace qbui
