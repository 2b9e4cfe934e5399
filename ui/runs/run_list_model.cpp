#include "ui/runs/run_list_model.h"

#include <QFileInfo>

#include "ui/common/units.h"
#include "ui/session/cli_command.h"

namespace qbui {

void RunListModel::addEvaluation(EvaluationResult result) {
    const int row = int(runs_.size());
    beginInsertRows({}, row, row);
    runs_.push_back(std::move(result));
    endInsertRows();
}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(runs_.size()); }

int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::value(const EvaluationResult& run, int column) const {
    const qb::PerplexityResult& p = run.perplexity;
    switch (column) {
    case ModelColumn: return QFileInfo(run.request.modelPath).fileName();
    case TextColumn: return QFileInfo(run.request.textPath).fileName();
    case ProtocolColumn: return run.request.protocol;
    case ContextColumn: return qlonglong(p.ctx);
    case ChunksColumn: return qlonglong(p.chunks);
    case TokensColumn: return qlonglong(p.tokens);
    case PerplexityColumn: return p.ppl;
    case StderrColumn: return p.ppl_stderr;
    case SecondsColumn: return run.seconds;
    case SpeedColumn: return run.seconds > 0 ? double(p.chunks * p.ctx) / run.seconds : 0.0;
    }
    return {};
}

QVariant RunListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(runs_.size())) return {};
    const EvaluationResult& run = runs_[size_t(index.row())];
    const QVariant v = value(run, index.column());
    switch (role) {
    case SortRole: return v;
    case Qt::ToolTipRole: return cliCommand(evaluationCliArguments(run.request));
    case Qt::TextAlignmentRole:
        return index.column() >= ContextColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::DisplayRole:
        switch (index.column()) {
        case PerplexityColumn: return QString::number(v.toDouble(), 'f', 4);
        case StderrColumn: return QStringLiteral("± %1").arg(v.toDouble(), 0, 'f', 4);
        case SecondsColumn: return durationText(v.toDouble());
        case SpeedColumn: return QString::number(v.toDouble(), 'f', 0);
        case TokensColumn: return countText(v.toLongLong());
        }
        return v;
    }
    return {};
}

QVariant RunListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (orientation == Qt::Vertical) return section + 1;
    static const char* const kTitles[ColumnCount] = {
        QT_TR_NOOP("Model"), QT_TR_NOOP("Text"), QT_TR_NOOP("Protocol"), QT_TR_NOOP("Ctx"),
        QT_TR_NOOP("Chunks"), QT_TR_NOOP("Scored tokens"), QT_TR_NOOP("PPL"), QT_TR_NOOP("±"),
        QT_TR_NOOP("Time"), QT_TR_NOOP("Tokens/s")};
    return section >= 0 && section < ColumnCount ? tr(kTitles[section]) : QVariant();
}

}  // namespace qbui
