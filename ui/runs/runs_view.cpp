#include "ui/runs/runs_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

#include "ui/common/units.h"
#include "ui/plots/plot_style.h"
#include "ui/runs/run_list_model.h"

namespace qbui {
namespace {

struct RunPoint {
    double kib = 0;
    double ppl = 0;
    QString label;
};

std::vector<RunPoint> pointsOf(const RunListModel& runs) {
    std::vector<RunPoint> points;
    for (int row = 0; row < runs.rowCount(); ++row) {
        const QVariant size = runs.index(row, RunListModel::SizeColumn).data(RunListModel::SortRole);
        const QVariant ppl = runs.index(row, RunListModel::PerplexityColumn).data(RunListModel::SortRole);
        if (!size.isValid() || !ppl.isValid()) continue;
        points.push_back({size.toDouble() / 1024.0, ppl.toDouble(), runs.index(row, RunListModel::ConfigColumn).data().toString()});
    }
    return points;
}

// The points no other point beats in both size and perplexity, by increasing size.
std::vector<RunPoint> paretoFront(std::vector<RunPoint> points) {
    std::sort(points.begin(), points.end(), [](const RunPoint& a, const RunPoint& b) { return a.kib < b.kib || (a.kib == b.kib && a.ppl < b.ppl); });
    std::vector<RunPoint> front;
    for (const RunPoint& p : points)
        if (front.empty() || p.ppl < front.back().ppl) front.push_back(p);
    return front;
}

}  // namespace

RunsView::RunsView(RunListModel& runs, QWidget* parent)
    : QWidget(parent), runs_(runs), plot_(new QCustomPlot(this)), table_(new QTableView(this)) {
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(&runs_);
    proxy->setSortRole(RunListModel::SortRole);
    table_->setModel(proxy);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    plot_->xAxis->setLabel(tr("file size (KiB)"));
    plot_->yAxis->setLabel(tr("perplexity"));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    QCPGraph* all = plot_->addGraph();
    all->setLineStyle(QCPGraph::lsNone);
    all->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, seriesColour(0), 8));
    all->setName(tr("runs"));
    QCPGraph* front = plot_->addGraph();
    front->setPen(QPen(seriesColour(1), 1.5, Qt::DashLine));
    front->setName(tr("Pareto front"));
    plot_->legend->setVisible(true);
    applyPlotStyle(*plot_, palette());

    auto* run = new QPushButton(tr("Quantize / convert…"), this);
    auto* report = new QPushButton(tr("Export report…"), this);
    connect(run, &QPushButton::clicked, this, &RunsView::runRequested);
    connect(report, &QPushButton::clicked, this, &RunsView::reportRequested);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(run);
    buttons->addWidget(report);
    buttons->addStretch(1);

    auto* body = new QSplitter(Qt::Vertical, this);
    body->addWidget(plot_);
    body->addWidget(table_);
    body->setStretchFactor(0, 1);
    body->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(body, 1);

    connect(&runs_, &QAbstractItemModel::rowsInserted, this, &RunsView::redraw);
    redraw();
}

void RunsView::redraw() {
    const std::vector<RunPoint> points = pointsOf(runs_);
    QVector<double> keys, values;
    for (const RunPoint& p : points) {
        keys << p.kib;
        values << p.ppl;
    }
    plot_->graph(0)->setData(keys, values);
    QVector<double> frontKeys, frontValues;
    for (const RunPoint& p : paretoFront(points)) {
        frontKeys << p.kib;
        frontValues << p.ppl;
    }
    plot_->graph(1)->setData(frontKeys, frontValues, true);
    plot_->clearItems();
    for (const RunPoint& p : points) {
        auto* label = new QCPItemText(plot_);
        label->position->setCoords(p.kib, p.ppl);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->setText(QStringLiteral(" ") + p.label);
        label->setColor(palette().color(QPalette::Text));
    }
    plot_->rescaleAxes();
    plot_->xAxis->scaleRange(1.3, plot_->xAxis->range().center());  // room for the labels
    plot_->yAxis->scaleRange(1.15, plot_->yAxis->range().center());
    requestReplot(*plot_);
}

void RunsView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) {
        applyPlotStyle(*plot_, palette());
        redraw();
    }
    QWidget::changeEvent(event);
}

}  // namespace qbui
