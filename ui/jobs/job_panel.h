// The job runner in the status bar: what runs ("Statistics of blk.0.attn_q — decoding"), a progress
// bar (busy until the job reports progress), the ETA, how many jobs wait, and Cancel.
#pragma once
#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;

namespace qbui {

class JobRunner;
struct JobProgress;

class JobPanel : public QWidget {
    Q_OBJECT
public:
    explicit JobPanel(JobRunner& runner, QWidget* parent = nullptr);

    QProgressBar* progressBar() const { return bar_; }
    QToolButton* cancelButton() const { return cancel_; }
    QString statusText() const;

private:
    void onStarted(int id, const QString& title);
    void onProgress(int id, const JobProgress& progress);
    void onQueueChanged(int queued);
    void showIdle();

    JobRunner& runner_;
    QString title_;
    QLabel* label_;
    QProgressBar* bar_;
    QLabel* eta_;
    QLabel* queued_;
    QToolButton* cancel_;
};

}  // namespace qbui
