#include "ui/log/message_log.h"

#include <QApplication>
#include <QStyle>

namespace qbui {
namespace {

QString severityName(Severity severity) {
    switch (severity) {
    case Severity::Info: return QObject::tr("info");
    case Severity::Warning: return QObject::tr("warning");
    case Severity::Error: return QObject::tr("error");
    }
    return {};
}

QIcon severityIcon(Severity severity) {
    const QStyle* style = QApplication::style();
    switch (severity) {
    case Severity::Info: return style->standardIcon(QStyle::SP_MessageBoxInformation);
    case Severity::Warning: return style->standardIcon(QStyle::SP_MessageBoxWarning);
    case Severity::Error: return style->standardIcon(QStyle::SP_MessageBoxCritical);
    }
    return {};
}

}  // namespace

void MessageLog::add(Severity severity, const QString& text) {
    const int row = int(entries_.size());
    beginInsertRows({}, row, row);
    entries_.push_back({QDateTime::currentDateTime(), severity, text});
    endInsertRows();
    if (severity == Severity::Error) emit errorAdded(text);
}

QString MessageLog::lastError() const {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
        if (it->severity == Severity::Error) return it->text;
    return {};
}

int MessageLog::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(entries_.size()); }

int MessageLog::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant MessageLog::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(entries_.size())) return {};
    const LogEntry& entry = entries_[size_t(index.row())];
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case TimeColumn: return entry.time.toString(QStringLiteral("HH:mm:ss"));
        case SeverityColumn: return severityName(entry.severity);
        case TextColumn: return entry.text;
        }
    }
    if (role == Qt::DecorationRole && index.column() == SeverityColumn) return severityIcon(entry.severity);
    if (role == Qt::ToolTipRole && index.column() == TextColumn) return entry.text;
    return {};
}

QVariant MessageLog::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case TimeColumn: return tr("Time");
    case SeverityColumn: return tr("Level");
    case TextColumn: return tr("Message");
    }
    return {};
}

}  // namespace qbui
