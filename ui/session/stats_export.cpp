#include "ui/session/stats_export.h"

#include <nlohmann/json.hpp>

#include "core/analysis/weight_stats.h"
#include "core/util/atomic_file.h"
#include "ui/analysis/weight_view_stats.h"
#include "ui/jobs/job_phase.h"

namespace qbui {

void exportWeightStats(const qb::Model& model, const QString& outputPath, const qb::JobControl& control, int threads) {
    const qb::WeightStatsOptions options = weightViewStatsOptions();
    nlohmann::json tensors = nlohmann::json::array();
    const size_t count = model.tensors.size();
    for (size_t i = 0; i < count; ++i) {
        qb::JobControl phase = job_phase(control, double(i) / double(count), double(i + 1) / double(count));
        const qb::TensorView& view = model.tensors[i];
        tensors.push_back(qb::to_json(qb::analyze_weights(view, options, &phase, threads), qb::JsonDetail::Full));
        view.evict_pages();
    }
    control.check("export");
    const std::string text = nlohmann::json{{"model", model.source_path.string()}, {"tensors", tensors}}.dump(2) + "\n";
    qb::AtomicFile file(outputPath.toStdString());
    file.write(text.data(), text.size());
    file.commit();
}

QStringList exportWeightStatsCliArguments(const QString& modelPath) {
    return {QStringLiteral("stats"), modelPath, QStringLiteral("--log-abs"), QStringLiteral("--json"), QStringLiteral("--full")};
}

}  // namespace qbui
