#include "ui/outliers/outlier_map_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

#include "ui/common/units.h"
#include "ui/outliers/activation_cell_model.h"
#include "ui/outliers/matrix_block_model.h"
#include "ui/plots/plot_style.h"

namespace qbui {
namespace {

// The plot's coordinates are matrix indices: index j covers [j - 0.5, j + 0.5], so cell i of n over
// `size` indices is drawn centred on (i + 0.5) · size / n − 0.5 (exact up to the one-index jitter of
// the integer cell edges).
QCPRange cellCentres(int64_t cells, int64_t size) {
    const double width = double(size) / double(cells);
    return {width / 2 - 0.5, double(size) - width / 2 - 0.5};
}

int64_t cellOf(const std::vector<int64_t>& edges, double coordinate) {
    const auto index = int64_t(std::llround(coordinate));
    const auto it = std::upper_bound(edges.begin(), edges.end(), index);
    return int64_t(it - edges.begin()) - 1;
}

QCPGraph* makeBars(QCPAxis* key, QCPAxis* value) {
    auto* bars = new QCPGraph(key, value);
    bars->setLineStyle(QCPGraph::lsStepCenter);
    bars->setPen(QPen(seriesColour(0), 1));
    QColor fill = seriesColour(0);
    fill.setAlpha(110);
    bars->setBrush(fill);
    return bars;
}

}  // namespace

struct OutlierMapView::MapData {
    QString name;                          // tensor or input record
    QString quantity;                      // "|w|" or "|x|"
    QString rowLabel, colLabel;
    int64_t rows = 0, cols = 0;
    const qb::HeatMap* map = nullptr;
    const std::vector<float>* rowBars = nullptr;
    const std::vector<float>* colBars = nullptr;  // none for activations
    bool weights = true;                   // cells have raw values to show
};

OutlierMapView::MapData OutlierMapView::current() const {
    if (mode_->currentIndex() == 1 && activations_)
        return {qtext(activations_->record), tr("|x|"), tr("input channel"), tr("calibration token"), activations_->channels,
                activations_->tokens, &activations_->token_map, &activations_->abs_max, nullptr, false};
    return {qtext(stats_->tensor), tr("|w|"), tr("output channel (row)"), tr("input channel (column)"), stats_->rows, stats_->cols,
            &stats_->heat_map, &stats_->channels.rows, &stats_->channels.cols, true};
}

OutlierMapView::OutlierMapView(QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)), logColours_(new QCheckBox(tr("Log colour scale"), this)),
      mode_(new QComboBox(this)),
      cellInfo_(new QLabel(this)), cellTable_(new QTableView(this)), cellValues_(new MatrixBlockModel(this)),
      channelValues_(new ActivationCellModel(this)) {
    buildPlot();
    cellInfo_->setWordWrap(true);
    cellInfo_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cellTable_->setModel(cellValues_);
    cellTable_->horizontalHeader()->setDefaultSectionSize(cellTable_->fontMetrics().horizontalAdvance(QStringLiteral("-0.00000e-00 ")));
    cellTable_->verticalHeader()->setDefaultSectionSize(cellTable_->fontMetrics().height() + 4);
    connect(logColours_, &QCheckBox::toggled, this, [this](bool on) {
        colorScale_->setDataScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        colorMap_->rescaleDataRange(true);
        requestReplot(*plot_);
    });

    auto* cellPanel = new QWidget(this);
    auto* cellLayout = new QVBoxLayout(cellPanel);
    cellLayout->setContentsMargins(0, 0, 0, 0);
    cellLayout->addWidget(cellInfo_);
    cellLayout->addWidget(cellTable_, 1);
    auto* body = new QSplitter(Qt::Horizontal, this);
    body->addWidget(plot_);
    body->addWidget(cellPanel);
    body->setStretchFactor(0, 3);
    body->setStretchFactor(1, 1);
    body->setSizes({3000, 1000});
    mode_->addItem(tr("Weights"));
    mode_->addItem(tr("Input activations (calibration)"));
    connect(mode_, &QComboBox::activated, this, [this](int index) { showActivations(index == 1); });
    auto* controls = new QHBoxLayout;
    controls->addWidget(mode_);
    controls->addWidget(logColours_);
    controls->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(body, 1);
    clear();
}

void OutlierMapView::buildPlot() {
    plot_->plotLayout()->clear();
    title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, title_);
    auto* grid = new QCPLayoutGrid;
    plot_->plotLayout()->addElement(1, 0, grid);
    colBarsRect_ = new QCPAxisRect(plot_);
    heatRect_ = new QCPAxisRect(plot_);
    rowBarsRect_ = new QCPAxisRect(plot_);
    colorScale_ = new QCPColorScale(plot_);
    grid->addElement(0, 0, colBarsRect_);
    grid->addElement(1, 0, heatRect_);
    grid->addElement(1, 1, rowBarsRect_);
    grid->addElement(1, 2, colorScale_);
    grid->setRowStretchFactor(0, 0.25);
    grid->setColumnStretchFactor(1, 0.25);
    grid->setColumnStretchFactor(2, 0.01);
    auto* columns = new QCPMarginGroup(plot_);
    colBarsRect_->setMarginGroup(QCP::msLeft | QCP::msRight, columns);
    heatRect_->setMarginGroup(QCP::msLeft | QCP::msRight, columns);
    auto* rows = new QCPMarginGroup(plot_);
    for (QCPLayoutElement* e : std::initializer_list<QCPLayoutElement*>{heatRect_, rowBarsRect_, colorScale_})
        e->setMarginGroup(QCP::msTop | QCP::msBottom, rows);

    QCPAxis* heatX = heatRect_->axis(QCPAxis::atBottom);
    QCPAxis* heatY = heatRect_->axis(QCPAxis::atLeft);
    heatX->setLabel(tr("input channel (column)"));
    heatY->setLabel(tr("output channel (row)"));
    heatY->setRangeReversed(true);
    QCPAxis* colX = colBarsRect_->axis(QCPAxis::atBottom);
    QCPAxis* colY = colBarsRect_->axis(QCPAxis::atLeft);
    colX->setTickLabels(false);
    colY->setLabel(tr("col absmax"));
    QCPAxis* rowY = rowBarsRect_->axis(QCPAxis::atLeft);
    QCPAxis* rowX = rowBarsRect_->axis(QCPAxis::atBottom);
    rowY->setTickLabels(false);
    rowY->setRangeReversed(true);
    rowX->setLabel(tr("row absmax"));
    rowX->ticker()->setTickCount(3);

    colorMap_ = new QCPColorMap(heatX, heatY);
    colorMap_->setColorScale(colorScale_);
    colorMap_->setGradient(QCPColorGradient::gpThermal);
    colorMap_->setInterpolate(false);
    colorScale_->axis()->setLabel(tr("max |w| of the block"));
    colorScale_->setBarWidth(12);
    colBars_ = makeBars(colX, colY);
    rowBars_ = makeBars(rowY, rowX);
    cellMark_ = new QCPItemRect(plot_);
    cellMark_->setClipAxisRect(heatRect_);
    cellMark_->topLeft->setAxes(heatX, heatY);
    cellMark_->bottomRight->setAxes(heatX, heatY);
    cellMark_->setPen(QPen(QColor(0x22, 0xd3, 0xee), 2));

    connect(heatX, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), colX, qOverload<const QCPRange&>(&QCPAxis::setRange));
    connect(heatY, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), rowY, qOverload<const QCPRange&>(&QCPAxis::setRange));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    for (QCPAxisRect* rect : {colBarsRect_, rowBarsRect_}) {
        rect->setRangeDrag(Qt::Orientations());
        rect->setRangeZoom(Qt::Orientations());
    }
    heatRect_->setRangeDragAxes(heatX, heatY);
    heatRect_->setRangeZoomAxes(heatX, heatY);
    connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) { pressPosition_ = event->pos(); });
    connect(plot_, &QCustomPlot::mouseRelease, this, &OutlierMapView::onMouseRelease);
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] { drawHeatMap(); });
    applyPlotStyle(*plot_, palette());
}

void OutlierMapView::clear() {
    stats_.reset();
    activations_.reset();
    mode_->setCurrentIndex(0);
    mode_->setEnabled(false);
    selected_ = {};
    hasSelection_ = false;
    colorMap_->data()->clear();
    colBars_->data()->clear();
    rowBars_->data()->clear();
    cellMark_->setVisible(false);
    title_->setText(tr("Select a tensor to see its outlier map."));
    cellValues_->setBlock(nullptr);
    channelValues_->setCell(std::nullopt);
    cellInfo_->setText(tr("Click a cell of the map to see its values."));
    requestReplot(*plot_);
}

void OutlierMapView::showStats(WeightStatsPtr stats, ActivationsPtr activations) {
    stats_ = std::move(stats);
    activations_ = std::move(activations);
    mode_->setEnabled(activations_ != nullptr);
    if (!activations_) mode_->setCurrentIndex(0);
    showActivations(mode_->currentIndex() == 1);
}

bool OutlierMapView::showActivations(bool activations) {
    if (!stats_ || (activations && !activations_)) return false;
    mode_->setCurrentIndex(activations ? 1 : 0);
    selected_ = {};
    hasSelection_ = false;
    cellMark_->setVisible(false);
    cellTable_->setModel(activations ? static_cast<QAbstractItemModel*>(channelValues_) : cellValues_);
    cellValues_->setBlock(nullptr);
    channelValues_->setCell(std::nullopt);
    cellInfo_->setText(tr("Click a cell of the map to see its values."));
    drawHeatMap();
    drawChannelBars();
    requestReplot(*plot_);
    return true;
}

void OutlierMapView::drawHeatMap() {
    if (!stats_) return;
    const MapData data = current();
    const qb::HeatMap& map = *data.map;
    const int64_t cellRows = map.cell_rows(), cellCols = map.cell_cols();
    colorMap_->data()->setSize(int(cellCols), int(cellRows));
    colorMap_->data()->setRange(cellCentres(cellCols, data.cols), cellCentres(cellRows, data.rows));
    for (int64_t r = 0; r < cellRows; ++r)
        for (int64_t c = 0; c < cellCols; ++c) colorMap_->data()->setCell(int(c), int(r), double(map.at(r, c)));
    colorMap_->rescaleDataRange(true);
    colorScale_->axis()->setLabel(tr("max %1 of the block").arg(data.quantity));
    heatRect_->axis(QCPAxis::atBottom)->setRange(-0.5, double(data.cols) - 0.5);
    heatRect_->axis(QCPAxis::atBottom)->setLabel(data.colLabel);
    heatRect_->axis(QCPAxis::atLeft)->setRange(-0.5, double(data.rows) - 0.5);
    heatRect_->axis(QCPAxis::atLeft)->setLabel(data.rowLabel);
    const int64_t blockRows = (data.rows + cellRows - 1) / cellRows, blockCols = (data.cols + cellCols - 1) / cellCols;
    title_->setText(tr("%1: max %2 over %3 × %4 cells (blocks of up to %5 × %6 values)")
                        .arg(data.name, data.quantity).arg(cellRows).arg(cellCols).arg(blockRows).arg(blockCols));
    requestReplot(*plot_);
}

void OutlierMapView::drawChannelBars() {
    auto fill = [](QCPGraph* bars, const std::vector<float>* absmax) {
        QVector<double> keys, values;
        for (size_t i = 0; absmax && i < absmax->size(); ++i) {
            keys << double(i);
            values << double((*absmax)[i]);
        }
        bars->setData(keys, values, true);
        bars->rescaleValueAxis();
        bars->valueAxis()->setRangeLower(0);
    };
    const MapData data = current();
    fill(colBars_, data.colBars);
    fill(rowBars_, data.rowBars);
}

bool OutlierMapView::selectCell(int64_t cellRow, int64_t cellCol) {
    if (!stats_) return false;
    const MapData data = current();
    const qb::HeatMap& map = *data.map;
    if (cellRow < 0 || cellRow >= map.cell_rows() || cellCol < 0 || cellCol >= map.cell_cols()) return false;
    selected_ = qb::heat_map_cell(map, cellRow, cellCol);
    hasSelection_ = true;
    markCell();
    cellValues_->setBlock(nullptr);
    channelValues_->setCell(data.weights ? std::nullopt : std::optional(qb::activation_cell(*activations_, cellRow, cellCol)));
    cellInfo_->setText(tr("%1 %2–%3 × %4 %5–%6: block max %7 %8.%9")
                           .arg(data.rowLabel).arg(selected_.first_row).arg(selected_.first_row + selected_.rows - 1)
                           .arg(data.colLabel).arg(selected_.first_col).arg(selected_.first_col + selected_.cols - 1)
                           .arg(data.quantity, numberText(map.at(cellRow, cellCol), 5),
                                data.weights ? tr(" Loading values…") : tr(" Its channels over the calibration:")));
    if (data.weights) emit cellValuesRequested(qtext(stats_->tensor), selected_);
    return true;
}

void OutlierMapView::markCell() {
    cellMark_->topLeft->setCoords(double(selected_.first_col) - 0.5, double(selected_.first_row) - 0.5);
    cellMark_->bottomRight->setCoords(double(selected_.first_col + selected_.cols) - 0.5,
                                      double(selected_.first_row + selected_.rows) - 0.5);
    cellMark_->setVisible(true);
    requestReplot(*plot_);
}

void OutlierMapView::showCellValues(std::shared_ptr<const qb::MatrixBlock> block) {
    if (!block || !hasSelection_ || mode_->currentIndex() != 0 || block->first_row != selected_.first_row ||
        block->first_col != selected_.first_col)
        return;
    cellValues_->setBlock(block);
    QString text = cellInfo_->text();
    text.replace(tr(" Loading values…"), tr(" Largest |w| at [%1, %2]; %3 values:")
                                            .arg(block->max_abs_row).arg(block->max_abs_col).arg(block->rows * block->cols));
    cellInfo_->setText(text);
}

void OutlierMapView::onMouseRelease(QMouseEvent* event) {
    constexpr int kClickSlop = 4;  // pixels a click may move without becoming a drag
    if (!stats_ || event->button() != Qt::LeftButton || !heatRect_->rect().contains(event->pos())) return;
    if ((event->pos() - pressPosition_).manhattanLength() > kClickSlop) return;
    const double col = heatRect_->axis(QCPAxis::atBottom)->pixelToCoord(event->pos().x());
    const double row = heatRect_->axis(QCPAxis::atLeft)->pixelToCoord(event->pos().y());
    const qb::HeatMap& map = *current().map;
    selectCell(cellOf(map.row_edges, row), cellOf(map.col_edges, col));
}

void OutlierMapView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) {
        applyPlotStyle(*plot_, palette());
        requestReplot(*plot_);
    }
    QWidget::changeEvent(event);
}

}  // namespace qbui
