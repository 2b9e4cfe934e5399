// The outlier map of the selected weight matrix: a heat map (QCPColorMap) of max |w| over blocks of
// rows × columns with its colour scale, the absmax of every input channel (column) in bars above it
// and of every output channel (row) in bars to its right, axes kept in step. Clicking a cell marks it
// and asks for its values (cellValuesRequested); showCellValues fills the table beside the map.
// Once a calibration exists, the same view shows the tensor's input activations instead: max |x| over
// input channels × calibration tokens, with each channel's absmax beside it (cells give their maximum;
// the calibration keeps no raw activations).
#pragma once
#include <QPoint>
#include <QWidget>
#include <memory>

#include "ui/analysis/matrix_block.h"
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

class MatrixBlockModel;

struct HeatMapCell {
    int64_t cellRow = -1, cellCol = -1;
    int64_t firstRow = 0, rows = 0, firstCol = 0, cols = 0;  // the matrix rectangle it covers
};

class OutlierMapView : public QWidget {
    Q_OBJECT
public:
    explicit OutlierMapView(QWidget* parent = nullptr);

    void showStats(WeightStatsPtr stats, ActivationsPtr activations = nullptr);
    bool showActivations(bool activations);  // false when the tensor has no calibration data
    void showCellValues(std::shared_ptr<const MatrixBlock> block);
    void clear();
    bool selectCell(int64_t cellRow, int64_t cellCol);  // false outside the map
    HeatMapCell selectedCell() const { return selected_; }

    QCustomPlot* plot() const { return plot_; }
    QCPColorMap* colorMap() const { return colorMap_; }
    MatrixBlockModel* cellValues() const { return cellValues_; }

signals:
    void cellValuesRequested(const QString& tensor, const qbui::HeatMapCell& cell);

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
    HeatMapCell selected_;
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
};

}  // namespace qbui
