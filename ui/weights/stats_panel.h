// The numbers next to the histogram: moments, σ tails (outlier share), non-finite counts, the top
// outlier channels each way, and the metrics of the format being probed.
#pragma once
#include <QWidget>
#include <vector>

class QFormLayout;
class QLabel;

namespace qb {
struct FormatProbe;
struct WeightStats;
}

namespace qbui {

class StatsPanel : public QWidget {
    Q_OBJECT
public:
    explicit StatsPanel(QWidget* parent = nullptr);

    void setStats(const qb::WeightStats& stats);
    void setProbe(const qb::FormatProbe* probe);  // nullptr: clear the format lines
    void clear();
    QString text() const;  // every line "label: value", for tests and the clipboard

private:
    QLabel* addLine(const QString& label);

    QFormLayout* form_;
    std::vector<QLabel*> values_;
    QLabel *tensor_, *count_, *mean_, *std_, *range_, *skewness_, *kurtosis_, *tails_, *nonFinite_, *topRows_,
        *topCols_, *probeFormat_, *probeError_, *probeLevels_;
};

}  // namespace qbui
