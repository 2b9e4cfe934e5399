#include "ui/runs/report_export.h"

#include <QFileInfo>

#include "core/report/report.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "ui/plots/report_plots.h"
#include "ui/session/cli_command.h"

namespace qbui {
namespace {

const char* const kFigures[] = {"pareto", "layers", "errors"};

QString figurePath(const QString& output, const char* figure, const char* extension) {
    const QFileInfo info(output);
    return info.absoluteDir().filePath(QStringLiteral("%1.%2.%3").arg(info.completeBaseName(), QLatin1String(figure), QLatin1String(extension)));
}

void saveFigure(const std::vector<qb::RunResult>& runs, const char* figure, const QString& path) {
    if (QLatin1String(figure) == QLatin1String("pareto")) saveParetoPlot(runs, path);
    else if (QLatin1String(figure) == QLatin1String("layers")) saveLayerErrorPlot(runs.front(), path);
    else saveErrorHistogramPlot(runs.front(), path);
}

}  // namespace

QString reportFormatOf(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("tex")) return QStringLiteral("latex");
    if (suffix == QLatin1String("csv") || suffix == QLatin1String("json")) return suffix;
    return QStringLiteral("md");
}

QStringList reportCliArguments(const QStringList& runFiles, const QString& output) {
    QStringList arguments = QStringList{QStringLiteral("report")} + runFiles;
    arguments << QStringLiteral("--format") << reportFormatOf(output) << QStringLiteral("--out") << output;
    for (const char* figure : kFigures) arguments << QStringLiteral("--plot-%1").arg(QLatin1String(figure)) << figurePath(output, figure, "png");
    return arguments;
}

QStringList exportReport(const std::vector<qb::RunResult>& runs, const QStringList& runFiles, const QString& output) {
    if (runs.empty()) throw qb::Error(output.toStdString(), "no quantize runs to report yet");
    const std::string command = cliCommand(reportCliArguments(runFiles, output)).toStdString();
    const std::string text = qb::render_report(runs, qb::report_format_by_name(reportFormatOf(output).toStdString()), command);
    qb::AtomicFile file(output.toStdString());
    file.write(text.data(), text.size());
    file.commit();
    QStringList written{output};
    for (const char* figure : kFigures)
        for (const char* extension : {"png", "pdf", "svg"}) {
            written << figurePath(output, figure, extension);
            saveFigure(runs, figure, written.back());
        }
    return written;
}

}  // namespace qbui
