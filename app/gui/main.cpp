// quantbench: the desktop workbench. `quantbench [MODEL]` opens the main window (and the model);
// the other options script a start for demonstrations and screenshots.
#include <QApplication>
#include <QCommandLineParser>
#include <cstdio>

#include "ui/main/main_window.h"
#include "ui/main/startup_script.h"
#include "ui/main/versions.h"
#include "ui/settings/app_settings.h"
#include "ui/style/theme.h"

namespace {

qbui::StartupOptions parseOptions(const QApplication& app, QCommandLineParser& parser) {
    parser.setApplicationDescription(QStringLiteral("Quantbench: a workbench for quantizing large language models."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("model"), QStringLiteral("GGUF, llama2.c .bin, .safetensors or Hugging Face folder"),
                                 QStringLiteral("[MODEL]"));
    const QCommandLineOption tensor(QStringLiteral("tensor"), QStringLiteral("Select this tensor."), QStringLiteral("NAME"));
    const QCommandLineOption format(QStringLiteral("format"), QStringLiteral("Probe this format in the weight view."), QStringLiteral("FORMAT"));
    const QCommandLineOption cell(QStringLiteral("cell"), QStringLiteral("Select this outlier-map cell."), QStringLiteral("ROW,COL"));
    const QCommandLineOption evaluate(QStringLiteral("evaluate"), QStringLiteral("Evaluate perplexity on this text."), QStringLiteral("TEXT"));
    const QCommandLineOption sensitivity(QStringLiteral("sensitivity"), QStringLiteral("Compute sensitivity with this calibration text (evaluated on --evaluate's text)."), QStringLiteral("TEXT"));
    const QCommandLineOption autoAssign(QStringLiteral("auto-assign"), QStringLiteral("Then assign the plan for this many bits per weight."), QStringLiteral("BPW"));
    const QCommandLineOption presets(QStringLiteral("quantize"), QStringLiteral("Quantize with these llama.cpp presets (comma list)."), QStringLiteral("PRESETS"));
    const QCommandLineOption outputDir(QStringLiteral("output-dir"), QStringLiteral("Where --quantize writes (default: the current folder)."), QStringLiteral("DIR"), QStringLiteral("."));
    const QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("Show this tab: weights, outliers, plan or runs."), QStringLiteral("TAB"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save the window as PNG, then quit."), QStringLiteral("PATH"));
    const QCommandLineOption dark(QStringLiteral("dark"), QStringLiteral("Use the dark palette."));
    parser.addOptions({tensor, format, cell, evaluate, sensitivity, autoAssign, presets, outputDir, tab, screenshot, dark});
    parser.process(app);

    qbui::StartupOptions options;
    options.model = parser.positionalArguments().value(0);
    options.tensor = parser.value(tensor);
    options.format = parser.value(format);
    const QStringList rowCol = parser.value(cell).split(QLatin1Char(','));
    if (rowCol.size() == 2) {
        options.cellRow = rowCol[0].toInt();
        options.cellCol = rowCol[1].toInt();
    }
    options.evaluationText = parser.value(evaluate);
    options.sensitivityCalibration = parser.value(sensitivity);
    options.autoAssignBpw = parser.value(autoAssign).toDouble();
    options.presets = parser.value(presets).split(QLatin1Char(','), Qt::SkipEmptyParts);
    options.outputDir = parser.value(outputDir);
    options.tab = parser.value(tab);
    options.screenshot = parser.value(screenshot);
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    QGuiApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Quantbench"));
    QApplication::setApplicationName(QStringLiteral("quantbench"));
    QApplication::setApplicationVersion(qbui::quantbenchVersion() + QLatin1Char('\n') + qbui::versionsText());
    QApplication::setDesktopFileName(QStringLiteral("quantbench"));

    QCommandLineParser parser;
    const qbui::StartupOptions options = parseOptions(app, parser);
    qbui::applyTheme(parser.isSet(QStringLiteral("dark")) || qbui::AppSettings().darkTheme());

    qbui::MainWindow window;
    if (!options.screenshot.isEmpty()) window.setErrorDialogsEnabled(false);
    window.show();
    auto* script = new qbui::StartupScript(window, options);
    QObject::connect(script, &qbui::StartupScript::finished, &app, [](bool ok) { QApplication::exit(ok ? 0 : 1); });
    script->start();
    return QApplication::exec();
}
