// "Export report": the session's quantize runs rendered by core/report exactly as
// `quantbench-cli report RUN.json ... --format F --out FILE` renders them (the same command is the
// report's provenance line, so the two files are identical), plus the size-vs-perplexity plot beside
// it as PNG and PDF (FILE without extension + ".pareto.png" / ".pareto.pdf").
#pragma once
#include <QString>
#include <QStringList>
#include <vector>

#include "core/pipeline/run_result.h"

class QCustomPlot;

namespace qbui {

QString reportFormatOf(const QString& path);  // md, csv, latex (.tex) or json, from the extension
QStringList reportCliArguments(const QStringList& runFiles, const QString& format, const QString& output);

// Writes the report atomically and the plot files; returns the written paths. Throws qb::Error.
QStringList exportReport(const std::vector<qb::RunResult>& runs, const QStringList& runFiles, const QString& output,
                         QCustomPlot& paretoPlot);

}  // namespace qbui
