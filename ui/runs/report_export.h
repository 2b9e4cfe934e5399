// "Export report": the session's quantize runs rendered by core/report exactly as
// `quantbench-cli report RUN.json ... --format F --out FILE --plot-pareto P --plot-layers L --plot-errors E`
// renders them (that command is the report's provenance line, so both files are identical), and the
// figures of ui/plots/report_plots beside it: FILE's stem + ".pareto", ".layers", ".errors", each as PNG
// (as the command writes them), PDF and SVG.
#pragma once
#include <QString>
#include <QStringList>
#include <vector>

#include "core/pipeline/run_result.h"

namespace qbui {

QString reportFormatOf(const QString& path);  // md, csv, latex (.tex) or json, from the extension
QStringList reportCliArguments(const QStringList& runFiles, const QString& output);

// Writes the report atomically and the figures; returns the written paths. Throws qb::Error.
QStringList exportReport(const std::vector<qb::RunResult>& runs, const QStringList& runFiles, const QString& output);

}  // namespace qbui
