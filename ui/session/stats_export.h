// Writes the statistics of every tensor of a model as JSON, the document that
// `quantbench-cli stats MODEL --log-abs --json --full` prints ({"model", "tensors": [...]}, each tensor as
// qb::to_json(stats, Full) with the weight view's options). The file is written atomically: a failed
// or cancelled export leaves nothing behind (and an existing file untouched).
#pragma once
#include <QString>
#include <QStringList>

#include "core/jobs/job.h"
#include "core/model/model.h"

namespace qbui {

void exportWeightStats(const qb::Model& model, const QString& outputPath, const qb::JobControl& control, int threads);
QStringList exportWeightStatsCliArguments(const QString& modelPath);

}  // namespace qbui
