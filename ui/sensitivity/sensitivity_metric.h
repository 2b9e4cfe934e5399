// One number per (tensor, format) out of a sensitivity result, by metric name: "hessian_error" (the
// default), "hawq", "mse", "delta_ppl", "mean_kld". Shared by the heat map, the plan's predicted loss
// and the automatic assignment, so all three rank by the same value: core's table
// (core/plan/sensitivity_assign.h), which `quantbench-cli plan --metric` uses too.
#pragma once
#include <QString>
#include <string>

#include "core/analysis/sensitivity.h"

namespace qbui {

double sensitivityMetric(const qb::SensitivityEntry& entry, const QString& metric);
// NaN when the result has no entry for the pair (skipped, or not a linear weight).
double sensitivityValue(const qb::SensitivityResult& result, const std::string& tensor, const std::string& format,
                        const QString& metric);

}  // namespace qbui
