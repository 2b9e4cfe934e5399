// What the user is working on: the open model and the results computed for it so far (weight
// statistics per tensor, activation summaries per linear-layer input from a calibration). Results are shared_ptr<const ...>: jobs hand them over on the GUI thread
// and views keep them alive while they draw them. Opening another model drops the results.
#pragma once
#include <QObject>
#include <QString>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/analysis/weight_stats.h"
#include "core/model/model.h"

namespace qbui {

using ModelPtr = std::shared_ptr<const qb::Model>;
using WeightStatsPtr = std::shared_ptr<const qb::WeightStats>;
using ActivationsPtr = std::shared_ptr<const qb::ActivationStats>;

class Workspace : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    const ModelPtr& model() const { return model_; }
    QString modelPath() const { return modelPath_; }
    void setModel(ModelPtr model, const QString& path);

    WeightStatsPtr weightStats(const std::string& tensor) const;  // nullptr until computed
    void storeWeightStats(WeightStatsPtr stats);

    // Activation summaries (Hessians left out) replace the previous calibration's.
    void setActivations(std::vector<qb::ActivationStats> records);
    ActivationsPtr activationsOf(const std::string& tensor) const;  // the input of a linear weight, or nullptr

signals:
    void modelChanged();

private:
    ModelPtr model_;
    QString modelPath_;
    std::map<std::string, WeightStatsPtr> weightStats_;
    std::map<std::string, ActivationsPtr> activations_;  // by input record
};

}  // namespace qbui
