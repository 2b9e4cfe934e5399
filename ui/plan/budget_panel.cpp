#include "ui/plan/budget_panel.h"

#include <QFormLayout>
#include <QLabel>

#include "core/plan/plan_export.h"
#include "core/util/error.h"
#include "ui/common/units.h"
#include "ui/plan/plan_document.h"

namespace qbui {
namespace {

QString bytesAndCount(uint64_t bytes) { return QStringLiteral("%1 (%2 B)").arg(bytesText(bytes), countText(int64_t(bytes))); }

}  // namespace

BudgetPanel::BudgetPanel(PlanDocument& document, QWidget* parent) : QWidget(parent), document_(document) {
    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    auto line = [&](const QString& label) {
        auto* value = new QLabel(this);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        form->addRow(label, value);
        values_.push_back(value);
        return value;
    };
    total_ = line(tr("Tensor data:"));
    bits_ = line(tr("Bits per weight:"));
    file_ = line(tr("GGUF file:"));
    quantized_ = line(tr("Quantized tensors:"));
    fallbacks_ = line(tr("Fallbacks:"));
    loss_ = line(tr("Predicted loss:"));
    change_ = line(tr("Last edit:"));
    QFont bold = total_->font();
    bold.setBold(true);
    total_->setFont(bold);
    bits_->setFont(bold);
    connect(&document_, &PlanDocument::changed, this, &BudgetPanel::refresh);
    refresh();
}

void BudgetPanel::refresh() {
    if (!document_.hasPlan()) {
        for (QLabel* value : values_) value->clear();
        totalBytes_ = 0;
        lastChange_ = 0;
        return;
    }
    const qb::ResolvedPlan& plan = document_.resolved();
    const uint64_t total = plan.total_bytes();
    lastChange_ = totalBytes_ ? int64_t(total) - int64_t(totalBytes_) : 0;
    totalBytes_ = total;
    total_->setText(bytesAndCount(total));
    bits_->setText(QString::number(plan.bits_per_weight(), 'f', 4));
    try {
        file_->setText(plan.target == qb::PlanTarget::Gguf ? bytesAndCount(qb::gguf_file_size(plan, *document_.model()).file_bytes)
                                                         : tr("– (not a GGUF target)"));
    } catch (const qb::Error& e) {
        file_->setText(qtext(e.what()));
    }
    int quantized = 0;
    for (const qb::TensorAssignment& t : plan.tensors) quantized += t.quantized() ? 1 : 0;
    quantized_->setText(tr("%1 of %2").arg(quantized).arg(plan.tensors.size()));
    fallbacks_->setText(QString::number(plan.fallback_count()));
    const PredictedLoss loss = document_.predictedLoss();
    loss_->setText(document_.sensitivity() ? tr("%1 (%2, %3 of %4 tensors measured)")
                                                 .arg(numberText(loss.total, 5), document_.lossMetric())
                                                 .arg(loss.measured)
                                                 .arg(loss.quantized)
                                           : tr("– (compute sensitivity first)"));
    change_->setText(lastChange_ == 0 ? QStringLiteral("±0 B") : QStringLiteral("%1%2 B").arg(lastChange_ > 0 ? "+" : "−").arg(countText(std::abs(lastChange_))));
}

QString BudgetPanel::text() const {
    QStringList lines;
    auto* form = static_cast<QFormLayout*>(layout());
    for (int row = 0; row < form->rowCount(); ++row)
        lines << static_cast<QLabel*>(form->itemAt(row, QFormLayout::LabelRole)->widget())->text() + QLatin1Char(' ') +
                     static_cast<QLabel*>(form->itemAt(row, QFormLayout::FieldRole)->widget())->text();
    return lines.join(QLatin1Char('\n'));
}

}  // namespace qbui
