#include "ui/common/file_field.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>

namespace qbui {

FileField::FileField(const QString& dialogTitle, const QString& nameFilter, QWidget* parent, Mode mode)
    : QWidget(parent), dialogTitle_(dialogTitle), nameFilter_(nameFilter), mode_(mode), edit_(new QLineEdit(this)) {
    auto* browse = new QPushButton(tr("Browse…"), this);
    connect(browse, &QPushButton::clicked, this, &FileField::browse);
    connect(edit_, &QLineEdit::textChanged, this, &FileField::pathChanged);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit_, 1);
    layout->addWidget(browse);
}

QString FileField::path() const { return edit_->text().trimmed(); }

void FileField::setPath(const QString& path) { edit_->setText(path); }

void FileField::browse() {
    const QString start = path().isEmpty() ? QString() : QFileInfo(path()).absoluteFilePath();
    const QString chosen = mode_ == Mode::Open ? QFileDialog::getOpenFileName(this, dialogTitle_, start, nameFilter_)
                                               : QFileDialog::getSaveFileName(this, dialogTitle_, start, nameFilter_);
    if (!chosen.isEmpty()) setPath(chosen);
}

}  // namespace qbui
