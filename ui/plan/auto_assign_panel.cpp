#include "ui/plan/auto_assign_panel.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

#include "ui/common/units.h"
#include "ui/plots/plot_style.h"

namespace qbui {
namespace {

enum Graph { CurveGraph, ChosenGraph };

}  // namespace

AutoAssignPanel::AutoAssignPanel(QWidget* parent)
    : QWidget(parent), bpw_(new QDoubleSpinBox(this)), assign_(new QPushButton(tr("Auto-assign"), this)), status_(new QLabel(this)),
      plot_(new QCustomPlot(this)) {
    bpw_->setRange(1.0, 32.0);
    bpw_->setSingleStep(0.25);
    bpw_->setValue(4.5);
    bpw_->setSuffix(tr(" bpw"));
    status_->setWordWrap(true);
    connect(assign_, &QPushButton::clicked, this, [this] { emit assignRequested(bpw_->value()); });

    plot_->setMinimumHeight(180);
    plot_->xAxis->setLabel(tr("bits per weight"));
    plot_->yAxis->setLabel(tr("predicted loss"));
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog));
    QCPGraph* curve = plot_->addGraph();
    curve->setPen(QPen(seriesColour(0), 1.5));
    curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    QCPGraph* chosen = plot_->addGraph();
    chosen->setLineStyle(QCPGraph::lsNone);
    chosen->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, seriesColour(2), 10));
    connect(plot_, &QCustomPlot::mousePress, this, &AutoAssignPanel::onPlotClick);
    applyPlotStyle(*plot_, palette());

    auto* row = new QHBoxLayout;
    row->addWidget(bpw_);
    row->addWidget(assign_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(row);
    layout->addWidget(status_);
    layout->addWidget(plot_, 1);
    setAvailable(false);
}

void AutoAssignPanel::setAvailable(bool sensitivityAvailable) {
    assign_->setEnabled(sensitivityAvailable);
    if (!sensitivityAvailable) {
        assignment_.reset();
        plot_->graph(CurveGraph)->data()->clear();
        plot_->graph(ChosenGraph)->data()->clear();
        requestReplot(*plot_);
    }
    status_->setText(sensitivityAvailable ? tr("Minimise the summed predicted loss within the budget (exact).")
                                          : tr("Needs sensitivity results (Sensitivity tab)."));
}

double AutoAssignPanel::targetBpw() const { return bpw_->value(); }

void AutoAssignPanel::showAssignment(std::shared_ptr<const qb::SensitivityAssignment> assignment) {
    assignment_ = std::move(assignment);
    {
        const QSignalBlocker blocker(bpw_);
        bpw_->setValue(assignment_->target_bpw);
    }
    QVector<double> keys, values;
    for (const qb::Allocation& a : assignment_->curve) {
        keys << a.bits_per_weight;
        values << a.predicted_loss;
    }
    plot_->graph(CurveGraph)->setData(keys, values, true);
    plot_->rescaleAxes();
    markPoint(assignment_->chosen.bits_per_weight, assignment_->chosen.predicted_loss);
    status_->setText(tr("%1 bpw, predicted loss %2%3. Click the curve to pick another point.")
                         .arg(assignment_->chosen.bits_per_weight, 0, 'f', 3)
                         .arg(numberText(assignment_->chosen.predicted_loss, 4))
                         .arg(assignment_->chosen.proven_optimal ? tr(" (proven optimal)") : QString()));
}

void AutoAssignPanel::markPoint(double bpw, double loss) {
    plot_->graph(ChosenGraph)->setData({bpw}, {loss});
    requestReplot(*plot_);
}

void AutoAssignPanel::onPlotClick(QMouseEvent* event) {
    if (!assignment_ || assignment_->curve.empty()) return;
    const double x = plot_->xAxis->pixelToCoord(event->pos().x());
    const qb::Allocation* nearest = &assignment_->curve.front();
    for (const qb::Allocation& a : assignment_->curve)
        if (std::fabs(a.bits_per_weight - x) < std::fabs(nearest->bits_per_weight - x)) nearest = &a;
    markPoint(nearest->bits_per_weight, nearest->predicted_loss);
    emit pointChosen(qb::assignment_plan(*assignment_, *nearest), nearest->bits_per_weight);
}

void AutoAssignPanel::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) {
        applyPlotStyle(*plot_, palette());
        requestReplot(*plot_);
    }
    QWidget::changeEvent(event);
}

}  // namespace qbui
