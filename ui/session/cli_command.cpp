#include "ui/session/cli_command.h"

#include <QRegularExpression>

namespace qbui {
namespace {

QString shellQuoted(const QString& argument) {
    static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9_./,:=+-]+$"));
    if (plain.match(argument).hasMatch()) return argument;
    QString quoted = argument;
    quoted.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
    return QLatin1Char('\'') + quoted + QLatin1Char('\'');
}

}  // namespace

QString cliCommand(const QStringList& arguments) {
    QStringList words{QStringLiteral("quantbench-cli")};
    for (const QString& argument : arguments) words << shellQuoted(argument);
    return words.join(QLatin1Char(' '));
}

QString exactNamePattern(const QString& tensor) {
    QString escaped;
    for (const QChar c : tensor) {
        if (!c.isLetterOrNumber() && c != QLatin1Char('_')) escaped += QLatin1Char('\\');
        escaped += c;
    }
    return QLatin1Char('^') + escaped + QLatin1Char('$');
}

}  // namespace qbui
