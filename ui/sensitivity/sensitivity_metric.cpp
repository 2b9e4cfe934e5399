#include "ui/sensitivity/sensitivity_metric.h"

#include <cmath>

namespace qbui {

double sensitivityMetric(const qb::SensitivityEntry& e, const QString& metric) {
    if (metric == QLatin1String("hawq")) return e.hawq;
    if (metric == QLatin1String("mse")) return e.mse;
    if (metric == QLatin1String("delta_ppl")) return e.delta_ppl;
    if (metric == QLatin1String("mean_kld")) return e.mean_kld;
    return e.hessian_error;
}

double sensitivityValue(const qb::SensitivityResult& result, const std::string& tensor, const std::string& format,
                        const QString& metric) {
    for (const qb::SensitivityEntry& e : result.entries)
        if (e.tensor == tensor && e.format == format) return sensitivityMetric(e, metric);
    return NAN;
}

}  // namespace qbui
