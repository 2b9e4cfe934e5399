// quantbench-cli report: renders saved run records (quantize --save-run, compare's *.run.json) as Markdown,
// CSV, LaTeX or JSON, and optionally writes them into an analysis file's /plans and /evaluations.
#include <cstdio>

#include <QApplication>

#include "app/cli/args.h"
#include "app/cli/cmd_calibrate.h"
#include "app/cli/commands.h"
#include "core/report/report.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "ui/plots/report_plots.h"

namespace qbcli {
namespace {

bool wants_plots(const Args& args) {
    return args.has("plot-pareto") || args.has("plot-layers") || args.has("plot-errors");
}

// QCustomPlot draws through Qt Widgets, which need an application object: one on the offscreen platform.
void save_plots(const Args& args, const std::vector<qb::RunResult>& runs) {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "quantbench-cli";
    char* argv[] = {name, nullptr};
    const QApplication app(argc, argv);
    if (args.has("plot-pareto")) qbui::saveParetoPlot(runs, QString::fromStdString(args.value("plot-pareto")));
    if (args.has("plot-layers")) qbui::saveLayerErrorPlot(runs.front(), QString::fromStdString(args.value("plot-layers")));
    if (args.has("plot-errors"))
        qbui::saveErrorHistogramPlot(runs.front(), QString::fromStdString(args.value("plot-errors")));
}

}  // namespace

int run_report(const CommandArgs& argv) {
    Args args(argv, {{"format", "out", "analysis", "plot-pareto", "plot-layers", "plot-errors"}, {"no-layers"}});
    if (args.positionals().empty())
        throw qb::Error("usage", "report RUN.json ... [--format md|csv|latex|json] [--out FILE] [--analysis FILE.qbh5] [--no-layers] "
                                  "[--plot-pareto F.png|pdf|svg] [--plot-layers F] [--plot-errors F]");
    std::vector<qb::RunResult> runs;
    for (const auto& path : args.positionals()) runs.push_back(qb::load_run_result(path));
    const std::string command = command_line("report", argv);
    const std::string text =
        qb::render_report(runs, qb::report_format_by_name(args.value("format", "md")), command, !args.flag("no-layers"));
    if (wants_plots(args)) save_plots(args, runs);
    if (args.has("analysis")) {
        qb::Hdf5Writer file(args.value("analysis"));
        file.set_attribute("/", "format", std::string("quantbench-analysis"));
        file.set_attribute("/", "command_line", command);
        for (const auto& run : runs) qb::write_run_to_analysis(file, run);
        file.commit();
    }
    if (!args.has("out")) {
        std::fputs(text.c_str(), stdout);
        return 0;
    }
    qb::AtomicFile out(args.value("out"));
    out.write(text.data(), text.size());
    out.commit();
    return 0;
}

}  // namespace qbcli
