// The outlier map of the selected weight matrix: a heat map (QCPColorMap) of max |w| over blocks of
// rows × columns with its colour scale, the absmax of every input channel (column) in bars above it
// and of every output channel (row) in bars to its right, axes kept in step. Clicking a cell marks it
// and asks for its values (cellValuesRequested); showCellValues fills the table beside the map.
// Once a calibration exists, the same view shows the tensor's input activations instead: max |x| over
// input channels × calibration tokens, with each channel's absmax beside it; a cell shows its maximum
// and the calibration's summaries of its channels (the calibration keeps no raw activations).
// Cells, their ranges and their values are core's (core/analysis/outlier_cell.h), as
// `quantbench-cli stats MODEL --tensor T --cell ROW,COL [--calib FILE.qbh5]` prints them.
#pragma once
#include <QPoint>
#include <QWidget>
#include <memory>

#include "core/analysis/outlier_cell.h"
#include "ui/session/workspace.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPItemRect;
class QCPTextElement;
class QLabel;
class QMouseEvent;
class QTableView;

namespace qbui {

class ActivationCellModel;
class MatrixBlockModel;

class OutlierMapView : public QWidget {
    Q_OBJECT
public:
    explicit OutlierMapView(QWidget* parent = nullptr);

    void showStats(WeightStatsPtr stats, ActivationsPtr activations = nullptr);
    bool showActivations(bool activations);  // false when the tensor has no calibration data
    void showCellValues(std::shared_ptr<const qb::MatrixBlock> block);
    void clear();
    bool selectCell(int64_t cellRow, int64_t cellCol);  // false outside the map
    bool hasSelectedCell() const { return hasSelection_; }
    qb::HeatMapCellRange selectedCell() const { return selected_; }

    QCustomPlot* plot() const { return plot_; }
    QCPColorMap* colorMap() const { return colorMap_; }
    MatrixBlockModel* cellValues() const { return cellValues_; }
    ActivationCellModel* channelValues() const { return channelValues_; }  // the activation cell's channels

signals:
    void cellValuesRequested(const QString& tensor, const qb::HeatMapCellRange& cell);

protected:
    void changeEvent(QEvent* event) override;

private:
    struct MapData;  // what the current mode draws
    MapData current() const;
    void buildPlot();
    void drawHeatMap();
    void drawChannelBars();
    void markCell();
    void onMouseRelease(QMouseEvent* event);  // a click (not a drag) on the map selects a cell

    WeightStatsPtr stats_;
    ActivationsPtr activations_;
    qb::HeatMapCellRange selected_;
    bool hasSelection_ = false;
    QPoint pressPosition_;
    QCustomPlot* plot_;
    QCPTextElement* title_ = nullptr;
    QCPAxisRect* heatRect_ = nullptr;
    QCPAxisRect* colBarsRect_ = nullptr;
    QCPAxisRect* rowBarsRect_ = nullptr;
    QCPColorMap* colorMap_ = nullptr;
    QCPColorScale* colorScale_ = nullptr;
    QCPGraph* colBars_ = nullptr;
    QCPGraph* rowBars_ = nullptr;
    QCPItemRect* cellMark_ = nullptr;
    QCheckBox* logColours_;
    QComboBox* mode_;
    QLabel* cellInfo_;
    QTableView* cellTable_;
    MatrixBlockModel* cellValues_;
    ActivationCellModel* channelValues_;
};

}  // namespace qbui
