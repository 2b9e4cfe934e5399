// The plan being edited for the open model: a qb::QuantPlan and its export target, always resolved
// (qb::resolve_plan gives every tensor's format, algorithm and exact bytes). Every edit is one undoable
// step on the undo stack; an edit the core rejects (a format the target cannot store for that shape,
// without fallback) is not applied and is reported through editRejected with the core's reason.
// Predicted loss: with sensitivity results, the sum over quantized tensors of the chosen metric
// (hessian_error by default) for each tensor's format, over the tensors the analysis measured in that
// format (the others are counted apart: embeddings have no input Hessian).
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <memory>

#include "core/analysis/sensitivity.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"
#include "ui/session/workspace.h"

class QUndoStack;

namespace qbui {

struct PredictedLoss {
    double total = 0;
    int measured = 0;   // quantized tensors whose (tensor, format) pair has a value
    int quantized = 0;  // quantized tensors of the plan
};

struct PlanState {
    qb::QuantPlan plan;
    qb::PlanTarget target = qb::PlanTarget::Gguf;
};

using SensitivityPtr = std::shared_ptr<const qb::SensitivityResult>;

class PlanDocument : public QObject {
    Q_OBJECT
public:
    static constexpr const char* kInitialPreset = "q4_k_m";

    explicit PlanDocument(QObject* parent = nullptr);

    void setModel(ModelPtr model);  // starts from the q4_k_m preset on the GGUF target, clears the undo stack
    const ModelPtr& model() const { return model_; }
    bool hasPlan() const { return resolved_ != nullptr; }
    const PlanState& state() const { return state_; }
    const qb::ResolvedPlan& resolved() const { return *resolved_; }
    QUndoStack* undoStack() const { return undo_; }

    // Edits; each returns false (and emits editRejected) when the resulting plan does not resolve.
    bool setTensorChoice(const QStringList& tensors, const qb::PlanChoice& choice);
    bool addRule(const qb::PlanRule& rule);
    bool removeRule(int index);
    bool setDefaultFormat(const QString& format);
    bool setTarget(qb::PlanTarget target);
    bool setFallback(bool fallback);
    bool replacePlan(const qb::QuantPlan& plan, const QString& what);  // preset, file, auto-assignment

    void load(const QString& path);        // throws qb::Error; undoable like any edit
    void save(const QString& path) const;  // throws qb::Error

    void setSensitivity(SensitivityPtr sensitivity, const QString& metric = QStringLiteral("hessian_error"));
    const SensitivityPtr& sensitivity() const { return sensitivity_; }
    QString lossMetric() const { return lossMetric_; }
    PredictedLoss predictedLoss() const;  // all zero without sensitivity results
    double predictedLoss(const std::string& tensor, const std::string& format) const;  // NaN when not measured

signals:
    void changed();
    void editRejected(const QString& reason);

private:
    class EditCommand;
    bool apply(PlanState next, const QString& what);
    void restore(const PlanState& state, std::shared_ptr<const qb::ResolvedPlan> resolved);

    ModelPtr model_;
    PlanState state_;
    std::shared_ptr<const qb::ResolvedPlan> resolved_;
    QUndoStack* undo_;
    SensitivityPtr sensitivity_;
    QString lossMetric_;
};

}  // namespace qbui
