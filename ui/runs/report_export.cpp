#include "ui/runs/report_export.h"

#include <QFileInfo>
#include <qcustomplot.h>

#include "core/report/report.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "ui/session/cli_command.h"

namespace qbui {

QString reportFormatOf(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("tex")) return QStringLiteral("latex");
    if (suffix == QLatin1String("csv") || suffix == QLatin1String("json")) return suffix;
    return QStringLiteral("md");
}

QStringList reportCliArguments(const QStringList& runFiles, const QString& format, const QString& output) {
    return QStringList{QStringLiteral("report")} + runFiles + QStringList{QStringLiteral("--format"), format, QStringLiteral("--out"), output};
}

QStringList exportReport(const std::vector<qb::RunResult>& runs, const QStringList& runFiles, const QString& output,
                         QCustomPlot& paretoPlot) {
    if (runs.empty()) throw qb::Error(output.toStdString(), "no quantize runs to report yet");
    const QString format = reportFormatOf(output);
    const std::string command = cliCommand(reportCliArguments(runFiles, format, output)).toStdString();
    const std::string text = qb::render_report(runs, qb::report_format_by_name(format.toStdString()), command);
    qb::AtomicFile file(output.toStdString());
    file.write(text.data(), text.size());
    file.commit();

    const QFileInfo info(output);
    const QString stem = info.absoluteDir().filePath(info.completeBaseName() + QStringLiteral(".pareto"));
    const QString png = stem + QStringLiteral(".png"), pdf = stem + QStringLiteral(".pdf");
    if (!paretoPlot.savePng(png, 1200, 800, 1.0) || !paretoPlot.savePdf(pdf, 1200, 800))
        throw qb::Error(stem.toStdString(), "cannot write the plot files");
    return {output, png, pdf};
}

}  // namespace qbui
