#include "ui/runs/run_list_model.h"

#include <QFileInfo>
#include <cmath>

#include "ui/common/units.h"
#include "ui/session/cli_command.h"

namespace qbui {
namespace {

QVariant finite(double value) { return std::isfinite(value) ? QVariant(value) : QVariant(); }

QVariant evaluationValue(const EvaluationResult& run, int column) {
    const qb::PerplexityResult& p = run.perplexity;
    switch (column) {
    case RunListModel::ConfigColumn: return QObject::tr("evaluation");
    case RunListModel::OutputColumn: return QFileInfo(run.request.modelPath).fileName();
    case RunListModel::TargetColumn: return QFileInfo(run.request.textPath).fileName();
    case RunListModel::SizeColumn: return qulonglong(run.modelBytes);
    case RunListModel::BitsColumn: return run.parameters ? QVariant(8.0 * double(run.modelBytes) / double(run.parameters)) : QVariant();
    case RunListModel::PerplexityColumn: return p.ppl;
    case RunListModel::StderrColumn: return p.ppl_stderr;
    case RunListModel::SecondsColumn: return run.seconds;
    }
    return {};
}

QVariant quantizeValue(const qb::RunResult& run, int column) {
    const qb::EvaluationSummary& e = run.evaluation;
    switch (column) {
    case RunListModel::ConfigColumn: return qtext(run.config);
    case RunListModel::OutputColumn: return QFileInfo(qtext(run.output)).fileName();
    case RunListModel::TargetColumn: return qtext(run.target);
    case RunListModel::SizeColumn: return qulonglong(run.file_bytes);
    case RunListModel::BitsColumn: return run.bits_per_weight;
    case RunListModel::PerplexityColumn: return finite(e.ppl);
    case RunListModel::StderrColumn: return finite(e.ppl_stderr);
    case RunListModel::DeltaColumn: return finite(e.delta_ppl);
    case RunListModel::DeltaPercentColumn: return finite(e.delta_ppl_percent);
    case RunListModel::KldColumn: return e.kld ? finite(e.mean_kld) : QVariant();
    case RunListModel::Top1Column: return e.kld ? finite(100.0 * e.top1_agreement) : QVariant();
    case RunListModel::SecondsColumn: return run.seconds.total;
    }
    return {};
}

}  // namespace

void RunListModel::append(SessionRun run) {
    const int row = int(runs_.size());
    beginInsertRows({}, row, row);
    runs_.push_back(std::move(run));
    endInsertRows();
}

void RunListModel::addEvaluation(EvaluationResult result) { append({std::move(result), nullptr, QString()}); }

void RunListModel::addQuantizeRun(std::shared_ptr<const qb::RunResult> run, const QString& runFile) {
    append({std::nullopt, std::move(run), runFile});
}

std::vector<qb::RunResult> RunListModel::quantizeRuns() const {
    std::vector<qb::RunResult> runs;
    for (const SessionRun& r : runs_)
        if (r.quantized) runs.push_back(*r.quantized);
    return runs;
}

QStringList RunListModel::quantizeRunFiles() const {
    QStringList files;
    for (const SessionRun& r : runs_)
        if (r.quantized) files << r.runFile;
    return files;
}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(runs_.size()); }

int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::value(const SessionRun& run, int column) const {
    return run.quantized ? quantizeValue(*run.quantized, column) : evaluationValue(*run.evaluation, column);
}

QString RunListModel::displayed(const QVariant& v, int column) const {
    switch (column) {
    case SizeColumn: return bytesText(v.toULongLong());
    case BitsColumn: return QString::number(v.toDouble(), 'f', 3);
    case PerplexityColumn: return QString::number(v.toDouble(), 'f', 4);
    case StderrColumn: return QStringLiteral("± %1").arg(v.toDouble(), 0, 'f', 4);
    case DeltaColumn: return QString::asprintf("%+.4f", v.toDouble());
    case DeltaPercentColumn: return QString::asprintf("%+.2f%%", v.toDouble());
    case KldColumn: return QString::number(v.toDouble(), 'f', 5);
    case Top1Column: return QStringLiteral("%1%").arg(v.toDouble(), 0, 'f', 2);
    case SecondsColumn: return durationText(v.toDouble());
    }
    return v.toString();
}

QVariant RunListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(runs_.size())) return {};
    const SessionRun& run = runs_[size_t(index.row())];
    const QVariant v = value(run, index.column());
    switch (role) {
    case SortRole: return v;
    case Qt::DisplayRole: return v.isValid() ? QVariant(displayed(v, index.column())) : QVariant();
    case Qt::ToolTipRole:
        return run.quantized ? qtext(run.quantized->provenance.command_line) : cliCommand(evaluationCliArguments(run.evaluation->request));
    case Qt::TextAlignmentRole:
        return index.column() >= SizeColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    }
    return {};
}

QVariant RunListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (orientation == Qt::Vertical) return section + 1;
    static const char* const kTitles[ColumnCount] = {
        QT_TR_NOOP("Configuration"), QT_TR_NOOP("Output / model"), QT_TR_NOOP("Target / text"), QT_TR_NOOP("Size"),
        QT_TR_NOOP("Bits/w"), QT_TR_NOOP("PPL"), QT_TR_NOOP("±"), QT_TR_NOOP("Δppl"), QT_TR_NOOP("Δppl %"),
        QT_TR_NOOP("KLD"), QT_TR_NOOP("Top-1"), QT_TR_NOOP("Time")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
