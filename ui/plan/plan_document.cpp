#include "ui/plan/plan_document.h"

#include <QUndoStack>
#include <cmath>

#include "core/plan/presets.h"
#include "core/util/error.h"
#include "ui/common/units.h"
#include "ui/sensitivity/sensitivity_metric.h"

namespace qbui {

class PlanDocument::EditCommand : public QUndoCommand {
public:
    EditCommand(PlanDocument& document, PlanState after, std::shared_ptr<const qb::ResolvedPlan> resolved, const QString& what)
        : QUndoCommand(what), document_(document), before_(document.state_), beforeResolved_(document.resolved_),
          after_(std::move(after)), afterResolved_(std::move(resolved)) {}

    void redo() override { document_.restore(after_, afterResolved_); }
    void undo() override { document_.restore(before_, beforeResolved_); }

private:
    PlanDocument& document_;
    PlanState before_;
    std::shared_ptr<const qb::ResolvedPlan> beforeResolved_;
    PlanState after_;
    std::shared_ptr<const qb::ResolvedPlan> afterResolved_;
};

PlanDocument::PlanDocument(QObject* parent) : QObject(parent), undo_(new QUndoStack(this)) {}

void PlanDocument::setModel(ModelPtr model) {
    model_ = std::move(model);
    undo_->clear();
    sensitivity_.reset();
    resolved_.reset();
    if (model_) {
        state_ = {qb::preset_plan(kInitialPreset, *model_), qb::PlanTarget::Gguf};
        resolved_ = std::make_shared<const qb::ResolvedPlan>(qb::resolve_plan(state_.plan, *model_, state_.target));
    }
    emit changed();
}

bool PlanDocument::apply(PlanState next, const QString& what) {
    if (!model_) return false;
    try {
        auto resolved = std::make_shared<const qb::ResolvedPlan>(qb::resolve_plan(next.plan, *model_, next.target));
        undo_->push(new EditCommand(*this, std::move(next), std::move(resolved), what));
        return true;
    } catch (const qb::Error& e) {
        emit editRejected(tr("%1: %2").arg(what, qtext(e.what())));
        return false;
    }
}

void PlanDocument::restore(const PlanState& state, std::shared_ptr<const qb::ResolvedPlan> resolved) {
    state_ = state;
    resolved_ = std::move(resolved);
    emit changed();
}

bool PlanDocument::setTensorChoice(const QStringList& tensors, const qb::PlanChoice& choice) {
    PlanState next = state_;
    for (const QString& tensor : tensors) {
        qb::PlanChoice& entry = next.plan.overrides[tensor.toStdString()];
        if (choice.format) entry.format = choice.format;
        if (choice.algorithm) {
            entry.algorithm = choice.algorithm;
            entry.options.reset();
        }
        if (choice.options) entry.options = choice.options;
    }
    const QString what = tensors.size() == 1 ? tensors.front() : tr("%1 tensors").arg(tensors.size());
    const QString value = qtext(choice.format.value_or(choice.algorithm.value_or(std::string())));
    return apply(std::move(next), tr("Set %1 to %2").arg(what, value));
}

bool PlanDocument::addRule(const qb::PlanRule& rule) {
    PlanState next = state_;
    next.plan.rules.push_back(rule);
    return apply(std::move(next), tr("Add rule %1").arg(qtext(rule.match)));
}

bool PlanDocument::removeRule(int index) {
    if (index < 0 || index >= int(state_.plan.rules.size())) return false;
    PlanState next = state_;
    const QString match = qtext(next.plan.rules[size_t(index)].match);
    next.plan.rules.erase(next.plan.rules.begin() + index);
    return apply(std::move(next), tr("Remove rule %1").arg(match));
}

bool PlanDocument::setDefaultFormat(const QString& format) {
    PlanState next = state_;
    next.plan.defaults.format = format.toStdString();
    return apply(std::move(next), tr("Default format %1").arg(format));
}

bool PlanDocument::setTarget(qb::PlanTarget target) {
    PlanState next = state_;
    next.target = target;
    return apply(std::move(next), tr("Target %1").arg(qtext(std::string(qb::plan_target_name(target)))));
}

bool PlanDocument::setFallback(bool fallback) {
    PlanState next = state_;
    next.plan.fallback = fallback;
    return apply(std::move(next), fallback ? tr("Fallback on") : tr("Fallback off"));
}

bool PlanDocument::replacePlan(const qb::QuantPlan& plan, const QString& what) {
    PlanState next = state_;
    next.plan = plan;
    return apply(std::move(next), what);
}

void PlanDocument::load(const QString& path) {
    const qb::QuantPlan plan = qb::load_plan(path.toStdString());
    if (!replacePlan(plan, tr("Load %1").arg(path))) throw qb::Error(path.toStdString(), "the plan does not fit this model");
}

void PlanDocument::save(const QString& path) const { qb::save_plan(state_.plan, path.toStdString()); }

void PlanDocument::setSensitivity(SensitivityPtr sensitivity, const QString& metric) {
    sensitivity_ = std::move(sensitivity);
    lossMetric_ = metric;
    emit changed();
}

double PlanDocument::predictedLoss(const std::string& tensor, const std::string& format) const {
    return sensitivity_ ? sensitivityValue(*sensitivity_, tensor, format, lossMetric_) : NAN;
}

PredictedLoss PlanDocument::predictedLoss() const {
    PredictedLoss loss;
    if (!sensitivity_ || !resolved_) return loss;
    for (const qb::TensorAssignment& t : resolved_->tensors) {
        if (!t.quantized()) continue;
        ++loss.quantized;
        const double value = predictedLoss(t.name, t.format->name);
        if (std::isnan(value)) continue;
        loss.total += value;
        ++loss.measured;
    }
    return loss;
}

}  // namespace qbui
