// The application's message log: every job start/end, every error, as rows of a table model shown in
// the log panel. Errors are also announced by errorAdded, which the main window turns into a
// non-modal dialog; tests read the model instead of waiting on dialogs.
#pragma once
#include <QAbstractTableModel>
#include <QDateTime>
#include <QString>
#include <vector>

namespace qbui {

enum class Severity { Info, Warning, Error };

struct LogEntry {
    QDateTime time;
    Severity severity = Severity::Info;
    QString text;
};

class MessageLog : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TimeColumn, SeverityColumn, TextColumn, ColumnCount };

    using QAbstractTableModel::QAbstractTableModel;

    void add(Severity severity, const QString& text);
    void info(const QString& text) { add(Severity::Info, text); }
    void warning(const QString& text) { add(Severity::Warning, text); }
    void error(const QString& text) { add(Severity::Error, text); }

    const std::vector<LogEntry>& entries() const { return entries_; }
    QString lastError() const;  // empty when there was none

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    void errorAdded(const QString& text);

private:
    std::vector<LogEntry> entries_;
};

}  // namespace qbui
