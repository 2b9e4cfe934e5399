#include "ui/sensitivity/sensitivity_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <map>
#include <qcustomplot.h>

#include "ui/common/units.h"
#include "ui/plots/plot_style.h"
#include "ui/sensitivity/sensitivity_metric.h"
#include "ui/sensitivity/sensitivity_table_model.h"

namespace qbui {
namespace {

constexpr int kMaxTensorLabels = 60;  // beyond this, every k-th tensor is labelled

template <typename Names>
int indexIn(Names& names, const std::string& name) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it != names.end()) return int(it - names.begin());
    names.push_back(name);
    return int(names.size()) - 1;
}

QSharedPointer<QCPAxisTickerText> textTicker(const std::vector<std::string>& names, size_t every) {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (size_t i = 0; i < names.size(); i += every) ticker->addTick(double(i), qtext(names[i]));
    return ticker;
}

}  // namespace

SensitivityView::SensitivityView(QWidget* parent)
    : QWidget(parent), metric_(new QComboBox(this)), logColours_(new QCheckBox(tr("Log colour scale"), this)),
      correlation_(new QLabel(this)), plot_(new QCustomPlot(this)), table_(new SensitivityTableModel(this)),
      tableView_(new QTableView(this)) {
    metric_->addItem(tr("Hessian-weighted error"), QStringLiteral("hessian_error"));
    metric_->addItem(tr("HAWQ (trace H · ‖ΔW‖²)"), QStringLiteral("hawq"));
    metric_->addItem(tr("Weight MSE"), QStringLiteral("mse"));
    metric_->addItem(tr("Measured Δppl"), QStringLiteral("delta_ppl"));
    metric_->addItem(tr("Measured mean KLD"), QStringLiteral("mean_kld"));
    logColours_->setChecked(true);
    correlation_->setWordWrap(true);
    correlation_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    connect(metric_, &QComboBox::currentIndexChanged, this, [this] {
        logColours_->setChecked(metric() != QLatin1String("delta_ppl"));  // Δppl can be negative
        draw();
        emit metricChanged(metric());
    });
    connect(logColours_, &QCheckBox::toggled, this, &SensitivityView::draw);

    colorMap_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    colorScale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(0, 1, colorScale_);
    colorMap_->setColorScale(colorScale_);
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    colorMap_->setGradient(gradient);
    colorMap_->setInterpolate(false);
    auto* margins = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    colorScale_->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    plot_->yAxis->setRangeReversed(true);
    plot_->xAxis->setTickLabelRotation(70);
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);
    applyPlotStyle(*plot_, palette());

    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(table_);
    proxy->setSortRole(SensitivityTableModel::SortRole);
    tableView_->setModel(proxy);
    tableView_->setSortingEnabled(true);
    tableView_->sortByColumn(-1, Qt::AscendingOrder);
    tableView_->setAlternatingRowColors(true);
    tableView_->verticalHeader()->hide();
    tableView_->verticalHeader()->setDefaultSectionSize(tableView_->fontMetrics().height() + 6);
    tableView_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* compute = new QPushButton(tr("Compute sensitivity…"), this);
    auto* open = new QPushButton(tr("Open analysis file…"), this);
    connect(compute, &QPushButton::clicked, this, &SensitivityView::computeRequested);
    connect(open, &QPushButton::clicked, this, &SensitivityView::openRequested);
    auto* controls = new QHBoxLayout;
    controls->addWidget(compute);
    controls->addWidget(open);
    controls->addSpacing(16);
    controls->addWidget(new QLabel(tr("Colour by"), this));
    controls->addWidget(metric_);
    controls->addWidget(logColours_);
    controls->addStretch(1);

    auto* body = new QSplitter(Qt::Vertical, this);
    body->addWidget(plot_);
    body->addWidget(tableView_);
    body->setStretchFactor(0, 3);
    body->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(correlation_);
    layout->addWidget(body, 1);
    showResult(nullptr);
}

QString SensitivityView::metric() const { return metric_->currentData().toString(); }

void SensitivityView::showResult(std::shared_ptr<const qb::SensitivityResult> result) {
    result_ = std::move(result);
    table_->setResult(result_);
    correlation_->setText(result_ ? correlationText() : tr("No sensitivity results yet: compute them (calibration + one evaluation per tensor "
                                                          "and format) or open an analysis file written by quantbench-cli sensitivity --out."));
    draw();
}

QString SensitivityView::correlationText() const {
    if (!result_) return {};
    QStringList parts;
    for (const char* target : qb::sensitivity_targets()) {
        QStringList estimates;
        for (const char* estimate : qb::sensitivity_estimates())
            estimates << QStringLiteral("%1 %2").arg(QString::fromLatin1(estimate), numberText(result_->spearman(estimate, target), 3));
        parts << tr("Spearman ρ vs %1: %2").arg(QString::fromLatin1(target), estimates.join(QStringLiteral(", ")));
    }
    const QString base = std::isnan(result_->base_ppl) ? QString()
                                                        : tr("Base ppl %1 (%2 chunks of %3). ").arg(result_->base_ppl, 0, 'f', 4).arg(result_->eval_chunks).arg(result_->eval_ctx);
    return base + parts.join(QStringLiteral(" · "));
}

void SensitivityView::draw() {
    colorMap_->data()->clear();
    if (!result_ || result_->entries.empty()) {
        requestReplot(*plot_);
        return;
    }
    std::vector<std::string> tensors, formats;
    std::map<std::pair<int, int>, double> cells;
    for (const qb::SensitivityEntry& e : result_->entries) cells[{indexIn(tensors, e.tensor), indexIn(formats, e.format)}] = sensitivityMetric(e, metric());
    colorMap_->data()->setSize(int(tensors.size()), int(formats.size()));
    colorMap_->data()->setRange(QCPRange(0, double(tensors.size() - 1)), QCPRange(0, double(formats.size() - 1)));
    for (size_t t = 0; t < tensors.size(); ++t)
        for (size_t f = 0; f < formats.size(); ++f) {
            const auto it = cells.find({int(t), int(f)});
            colorMap_->data()->setCell(int(t), int(f), it == cells.end() ? NAN : it->second);
        }
    const bool logScale = logColours_->isChecked();
    colorScale_->setDataScaleType(logScale ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    colorScale_->axis()->setTicker(logScale ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog) : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    colorScale_->axis()->setLabel(metric_->currentText());
    colorMap_->rescaleDataRange(true);
    plot_->xAxis->setTicker(textTicker(tensors, std::max<size_t>(1, tensors.size() / kMaxTensorLabels + 1)));
    plot_->yAxis->setTicker(textTicker(formats, 1));
    plot_->xAxis->setRange(-0.5, double(tensors.size()) - 0.5);
    plot_->yAxis->setRange(-0.5, double(formats.size()) - 0.5);
    requestReplot(*plot_);
}

void SensitivityView::changeEvent(QEvent* event) {
    if (event->type() == QEvent::PaletteChange) {
        applyPlotStyle(*plot_, palette());
        requestReplot(*plot_);
    }
    QWidget::changeEvent(event);
}

}  // namespace qbui
