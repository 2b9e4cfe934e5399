// The live budget of the plan being edited: total bytes and bits per weight (exact, from the resolved
// plan), the GGUF file size for the GGUF target, quantized tensors and fallbacks, the predicted loss
// (with sensitivity results), and how much the last edit changed the size.
#pragma once
#include <QWidget>
#include <cstdint>
#include <vector>

class QLabel;

namespace qbui {

class PlanDocument;

class BudgetPanel : public QWidget {
    Q_OBJECT
public:
    explicit BudgetPanel(PlanDocument& document, QWidget* parent = nullptr);

    uint64_t totalBytes() const { return totalBytes_; }
    int64_t lastChangeBytes() const { return lastChange_; }
    QString text() const;  // every line "label value"

private:
    void refresh();

    PlanDocument& document_;
    uint64_t totalBytes_ = 0;
    int64_t lastChange_ = 0;
    std::vector<QLabel*> values_;
    QLabel *total_, *bits_, *file_, *quantized_, *fallbacks_, *loss_, *change_;
};

}  // namespace qbui
