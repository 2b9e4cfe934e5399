#include "ui/plan/auto_assign_command.h"

#include <nlohmann/json.hpp>

#include "core/plan/presets.h"
#include "core/plan/resolved_plan.h"

namespace qbui {
namespace {

bool isUnchangedPreset(const qb::Model& model, const qb::QuantPlan& plan) {
    if (!qb::find_preset(plan.name)) return false;
    try {
        return qb::plan_to_json(qb::preset_plan(plan.name, model)) == qb::plan_to_json(plan);
    } catch (const std::exception&) {
        return false;
    }
}

QString fileName(const std::string& planName) {
    QString name = QString::fromStdString(planName.empty() ? std::string("plan") : planName);
    name.replace(QLatin1Char('/'), QLatin1Char('_'));
    return name + QStringLiteral(".json");
}

}  // namespace

QStringList autoAssignCliArguments(const QString& modelPath, const qb::Model& model, const qb::QuantPlan& base,
                                   qb::PlanTarget target, const QString& sensitivityFile, const QString& metric,
                                   double bitsPerWeight) {
    QStringList arguments{QStringLiteral("plan"), modelPath};
    if (isUnchangedPreset(model, base)) arguments << QStringLiteral("--preset") << QString::fromStdString(base.name);
    else arguments << QStringLiteral("--plan") << fileName(base.name);
    arguments << QStringLiteral("--target") << QString::fromUtf8(qb::plan_target_name(target).data(), int(qb::plan_target_name(target).size()))
              << QStringLiteral("--sensitivity") << sensitivityFile << QStringLiteral("--metric") << metric
              << QStringLiteral("--target-bpw") << QString::number(bitsPerWeight) << QStringLiteral("--out")
              << fileName(base.name + "-auto");
    return arguments;
}

}  // namespace qbui
