// A file path entry: a line edit with a "Browse…" button opening a file dialog (to open or to save) on
// the current path.
#pragma once
#include <QWidget>

class QLineEdit;

namespace qbui {

class FileField : public QWidget {
    Q_OBJECT
public:
    enum class Mode { Open, Save };
    FileField(const QString& dialogTitle, const QString& nameFilter, QWidget* parent = nullptr, Mode mode = Mode::Open);

    QString path() const;
    void setPath(const QString& path);
    QLineEdit* edit() const { return edit_; }

signals:
    void pathChanged(const QString& path);

private:
    void browse();

    QString dialogTitle_;
    QString nameFilter_;
    Mode mode_;
    QLineEdit* edit_;
};

}  // namespace qbui
