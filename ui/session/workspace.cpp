#include "ui/session/workspace.h"

namespace qbui {

void Workspace::setModel(ModelPtr model, const QString& path) {
    model_ = std::move(model);
    modelPath_ = path;
    weightStats_.clear();
    emit modelChanged();
}

WeightStatsPtr Workspace::weightStats(const std::string& tensor) const {
    const auto it = weightStats_.find(tensor);
    return it == weightStats_.end() ? nullptr : it->second;
}

void Workspace::storeWeightStats(WeightStatsPtr stats) { weightStats_[stats->tensor] = std::move(stats); }

}  // namespace qbui
