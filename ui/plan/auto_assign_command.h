// The quantbench-cli command that makes the plan editor's automatic assignment: `plan MODEL (--preset P |
// --plan BASE.json) --target T --sensitivity FILE.qbh5 --metric M --target-bpw B --out PLAN.json` (both
// call core/plan/sensitivity_assign.h). The base plan is named by its preset while it is one unchanged,
// else by the file it would be saved to (<plan name>.json).
#pragma once
#include <QString>
#include <QStringList>

#include "core/model/model.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qbui {

QStringList autoAssignCliArguments(const QString& modelPath, const qb::Model& model, const qb::QuantPlan& base,
                                   qb::PlanTarget target, const QString& sensitivityFile, const QString& metric,
                                   double bitsPerWeight);

}  // namespace qbui
