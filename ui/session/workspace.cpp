#include "ui/session/workspace.h"

namespace qbui {

void Workspace::setModel(ModelPtr model, const QString& path) {
    model_ = std::move(model);
    modelPath_ = path;
    weightStats_.clear();
    activations_.clear();
    emit modelChanged();
}

WeightStatsPtr Workspace::weightStats(const std::string& tensor) const {
    const auto it = weightStats_.find(tensor);
    return it == weightStats_.end() ? nullptr : it->second;
}

void Workspace::storeWeightStats(WeightStatsPtr stats) { weightStats_[stats->tensor] = std::move(stats); }

}  // namespace qbui

namespace qbui {

void Workspace::setActivations(std::vector<qb::ActivationStats> records) {
    activations_.clear();
    for (qb::ActivationStats& record : records) {
        record.hessian.reset();
        const std::string name = record.record;
        activations_[name] = std::make_shared<const qb::ActivationStats>(std::move(record));
    }
}

ActivationsPtr Workspace::activationsOf(const std::string& tensor) const {
    const auto it = activations_.find(qb::input_record_name(tensor));
    return it == activations_.end() ? nullptr : it->second;
}

}  // namespace qbui
