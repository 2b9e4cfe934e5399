#include "ui/sensitivity/sensitivity_metric.h"

#include "core/plan/sensitivity_assign.h"

namespace qbui {

double sensitivityMetric(const qb::SensitivityEntry& e, const QString& metric) {
    return qb::sensitivity_metric(e, metric.toStdString());
}

double sensitivityValue(const qb::SensitivityResult& result, const std::string& tensor, const std::string& format,
                        const QString& metric) {
    return qb::sensitivity_value(result, tensor, format, metric.toStdString());
}

}  // namespace qbui
