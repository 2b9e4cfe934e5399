// The weight view of the selected tensor: histogram of w (linear) or |w| (log-spaced), linear or log
// counts, the quantized values Q(w) and the grid levels of one row's group for the chosen format;
// below it the histogram of the quantization error Q(w) − w; beside them the statistics panel and the
// per-format error table. Q(w) is off by default: its spikes at the grid levels dwarf the histogram of
// w on linear counts. The view only draws: it asks for a format probe through probeRequested
// (debounced) and is handed results by showStats / showProbe. The probe is core's (core/analysis/
// format_probe.h): `quantbench-cli stats MODEL --tensor T --probe F --row R --group G --json` prints it.
#pragma once
#include <QTimer>
#include <QWidget>
#include <memory>
#include <string>

#include "core/analysis/format_probe.h"
#include "ui/session/workspace.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSpinBox;
class QTableView;

namespace qbui {

class FormatErrorModel;
class HistogramPlot;
class StatsPanel;

using FormatProbePtr = std::shared_ptr<const qb::FormatProbe>;

class WeightView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kProbeDelayMs = 100;

    explicit WeightView(QWidget* parent = nullptr);

    void showPending(const QString& tensor);  // statistics are being computed
    void showStats(WeightStatsPtr stats);
    void showProbe(FormatProbePtr probe);
    void clear();

    qb::FormatProbeRequest probeRequest() const;
    bool selectFormat(const QString& format);  // false when the tensor cannot take it
    WeightStatsPtr stats() const { return stats_; }
    FormatProbePtr probe() const { return probe_; }
    HistogramPlot* histogramPlot() const { return histogram_; }
    HistogramPlot* errorPlot() const { return errorHistogram_; }
    StatsPanel* statsPanel() const { return statsPanel_; }
    FormatErrorModel* formatErrors() const { return formatErrors_; }
    QComboBox* scaleBox() const { return scale_; }
    QCheckBox* logCountsBox() const { return logCounts_; }
    QCheckBox* showQuantizedBox() const { return showQuantized_; }

signals:
    void probeRequested(const qb::FormatProbeRequest& request);

private:
    QWidget* makeControls();
    QWidget* makeSidePanel();
    void fillFormats();
    void updateGroupRange();
    void drawHistogram();
    void drawProbe();
    void scheduleProbe();
    const qb::Histogram* shownHistogram() const;

    WeightStatsPtr stats_;
    FormatProbePtr probe_;
    std::string preferredFormat_ = "q4_0";
    QComboBox* scale_;
    QCheckBox* logCounts_;
    QCheckBox* showQuantized_;
    QComboBox* format_;
    QSpinBox* row_;
    QSpinBox* group_;
    QLabel* status_;
    HistogramPlot* histogram_;
    HistogramPlot* errorHistogram_;
    StatsPanel* statsPanel_;
    FormatErrorModel* formatErrors_;
    QTableView* formatTable_;
    QTimer probeTimer_;
};

}  // namespace qbui
