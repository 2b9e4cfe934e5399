// The quantbench-cli command line that does what a GUI action does, quoted for a POSIX shell; the log
// shows it for every job, so whatever the GUI computed can be reproduced from a script.
#pragma once
#include <QString>
#include <QStringList>

namespace qbui {

QString cliCommand(const QStringList& arguments);  // cliCommand({"stats", path}) -> "quantbench-cli stats '/a b.gguf'"
QString exactNamePattern(const QString& tensor);   // "blk.0.attn_q" -> "^blk\.0\.attn_q$"

}  // namespace qbui
