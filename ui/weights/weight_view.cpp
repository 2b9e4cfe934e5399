#include "ui/weights/weight_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/analysis/format_error_table.h"
#include "core/quant/format.h"
#include "ui/common/units.h"
#include "ui/weights/format_error_model.h"
#include "ui/weights/histogram_plot.h"
#include "ui/weights/stats_panel.h"

namespace qbui {
namespace {

enum ScaleChoice { LinearScale, LogAbsScale };
constexpr size_t kMaxMarks = 512;  // beyond this (f16, 8-bit grids of long rows) the marks hide the histogram
const char* const kFallbackFormats[] = {"q4_0", "q4_k", "int4_g32_sym", "nf4", "int4_pc_sym"};

std::vector<float> marksFor(const std::vector<float>& levels, qb::HistogramScale scale) {
    if (scale == qb::HistogramScale::Linear) return levels;
    std::vector<float> magnitudes;
    for (float level : levels)
        if (level != 0.0f) magnitudes.push_back(std::fabs(level));
    std::sort(magnitudes.begin(), magnitudes.end());
    magnitudes.erase(std::unique(magnitudes.begin(), magnitudes.end()), magnitudes.end());
    return magnitudes;
}

}  // namespace

WeightView::WeightView(QWidget* parent)
    : QWidget(parent), histogram_(new HistogramPlot(this)), errorHistogram_(new HistogramPlot(this)),
      statsPanel_(new StatsPanel(this)), formatErrors_(new FormatErrorModel(this)) {
    probeTimer_.setSingleShot(true);
    probeTimer_.setInterval(kProbeDelayMs);
    connect(&probeTimer_, &QTimer::timeout, this, [this] { emit probeRequested(probeRequest()); });

    auto* plots = new QSplitter(Qt::Vertical, this);
    plots->addWidget(histogram_);
    plots->addWidget(errorHistogram_);
    plots->setStretchFactor(0, 3);
    plots->setStretchFactor(1, 2);
    auto* body = new QSplitter(Qt::Horizontal, this);
    body->addWidget(plots);
    body->addWidget(makeSidePanel());
    body->setStretchFactor(0, 3);
    body->setStretchFactor(1, 2);
    body->setSizes({3000, 2400});  // proportions: the side panel's long texts must not squeeze the plots

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(makeControls());
    layout->addWidget(body, 1);
    clear();
}

QWidget* WeightView::makeControls() {
    auto* controls = new QWidget(this);
    scale_ = new QComboBox(controls);
    scale_->addItem(tr("w, linear bins"), LinearScale);
    scale_->addItem(tr("|w|, log bins"), LogAbsScale);
    logCounts_ = new QCheckBox(tr("Log counts"), controls);
    showQuantized_ = new QCheckBox(tr("Show Q(w)"), controls);
    showQuantized_->setToolTip(tr("Overlay the histogram of the quantized values"));
    format_ = new QComboBox(controls);
    format_->setMinimumContentsLength(14);
    format_->setToolTip(tr("Format whose quantized values, grid levels and error are drawn"));
    row_ = new QSpinBox(controls);
    row_->setToolTip(tr("Row (output channel) whose grid levels are drawn"));
    group_ = new QSpinBox(controls);
    group_->setToolTip(tr("Group of the row (values sharing one scale)"));
    auto* resetZoom = new QToolButton(controls);
    resetZoom->setText(tr("Reset zoom"));
    status_ = new QLabel(controls);
    status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // long messages must not widen the view

    connect(scale_, &QComboBox::currentIndexChanged, this, [this] {
        if (const qb::Histogram* h = shownHistogram()) logCounts_->setChecked(h->log_counts);
        drawHistogram();
        scheduleProbe();
    });
    connect(logCounts_, &QCheckBox::toggled, this, [this](bool on) {
        histogram_->setLogCounts(on);
        errorHistogram_->setLogCounts(on);
    });
    connect(showQuantized_, &QCheckBox::toggled, this, &WeightView::drawProbe);
    connect(format_, &QComboBox::currentTextChanged, this, [this](const QString& name) {
        if (name.isEmpty()) return;
        preferredFormat_ = name.toStdString();
        updateGroupRange();
        scheduleProbe();
    });
    connect(row_, &QSpinBox::valueChanged, this, &WeightView::scheduleProbe);
    connect(group_, &QSpinBox::valueChanged, this, &WeightView::scheduleProbe);
    connect(resetZoom, &QToolButton::clicked, this, [this] {
        histogram_->resetZoom();
        errorHistogram_->resetZoom();
    });

    auto* layout = new QHBoxLayout(controls);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("Histogram of"), controls));
    layout->addWidget(scale_);
    layout->addWidget(logCounts_);
    layout->addSpacing(16);
    layout->addWidget(new QLabel(tr("Format"), controls));
    layout->addWidget(format_);
    layout->addWidget(new QLabel(tr("Row"), controls));
    layout->addWidget(row_);
    layout->addWidget(new QLabel(tr("Group"), controls));
    layout->addWidget(group_);
    layout->addWidget(showQuantized_);
    layout->addWidget(resetZoom);
    layout->addWidget(status_, 1);
    return controls;
}

QWidget* WeightView::makeSidePanel() {
    auto* side = new QSplitter(Qt::Vertical, this);
    auto* statsScroll = new QScrollArea(side);  // wrapped lines need their height, whatever the splitter gives
    statsScroll->setWidget(statsPanel_);
    statsScroll->setWidgetResizable(true);
    statsScroll->setFrameShape(QFrame::NoFrame);
    side->addWidget(statsScroll);
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(formatErrors_);
    proxy->setSortRole(FormatErrorModel::SortRole);
    formatTable_ = new QTableView(side);
    formatTable_->setModel(proxy);
    formatTable_->setSortingEnabled(true);
    formatTable_->sortByColumn(-1, Qt::AscendingOrder);
    formatTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    formatTable_->verticalHeader()->hide();
    formatTable_->verticalHeader()->setDefaultSectionSize(formatTable_->fontMetrics().height() + 6);
    formatTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    formatTable_->setToolTip(tr("Error of each format on this tensor; click a row to probe that format"));
    connect(formatTable_, &QTableView::clicked, this, [this](const QModelIndex& index) {
        selectFormat(index.siblingAtColumn(FormatErrorModel::FormatColumn).data().toString());
    });
    side->addWidget(formatTable_);
    side->setStretchFactor(1, 1);
    return side;
}

void WeightView::clear() {
    probeTimer_.stop();
    stats_.reset();
    probe_.reset();
    format_->clear();
    row_->setRange(0, 0);
    group_->setRange(0, 0);
    histogram_->clear();
    errorHistogram_->clear();
    statsPanel_->clear();
    formatErrors_->setErrors({});
    status_->setText(tr("Select a tensor in the model explorer."));
}

void WeightView::showPending(const QString& tensor) {
    status_->setText(tr("Computing statistics of %1…").arg(tensor));
}

void WeightView::showStats(WeightStatsPtr stats) {
    stats_ = std::move(stats);
    probe_.reset();
    status_->clear();
    fillFormats();
    const QSignalBlocker rowBlocker(row_), groupBlocker(group_);
    row_->setRange(0, int(stats_->rows - 1));
    updateGroupRange();
    if (format_->count() > 0) {  // where core's probe starts (and `stats --probe` without --row/--group)
        const qb::FormatProbeRequest start = qb::default_probe_request(*stats_, format_->currentText().toStdString());
        row_->setValue(int(start.row));
        group_->setValue(int(start.group));
    }
    statsPanel_->setStats(*stats_);
    formatErrors_->setErrors(stats_->format_errors);
    {
        const QSignalBlocker blocker(logCounts_);
        logCounts_->setChecked(shownHistogram()->log_counts);
    }
    drawHistogram();
    errorHistogram_->clear();
    scheduleProbe();
}

void WeightView::fillFormats() {
    const QSignalBlocker blocker(format_);
    format_->clear();
    for (const qb::FormatInfo* f : qb::default_error_formats(stats_->cols)) {
        format_->addItem(qtext(f->name));
        format_->setItemData(format_->count() - 1, qtext(f->description), Qt::ToolTipRole);
    }
    int chosen = format_->findText(qtext(preferredFormat_));
    for (const char* fallback : kFallbackFormats)
        if (chosen < 0) chosen = format_->findText(QString::fromLatin1(fallback));
    format_->setCurrentIndex(std::max(chosen, 0));
}

bool WeightView::selectFormat(const QString& format) {
    const int index = format_->findText(format);
    if (index < 0) return false;
    format_->setCurrentIndex(index);
    return true;
}

void WeightView::updateGroupRange() {
    if (!stats_ || format_->count() == 0) return;
    const qb::FormatInfo& format = qb::format_by_name(format_->currentText().toStdString());
    const int64_t groupSize = qb::probe_group_size(format, stats_->cols);
    const int64_t groups = (stats_->cols + groupSize - 1) / groupSize;
    group_->setRange(0, int(groups - 1));
    group_->setSuffix(tr(" of %1").arg(groups));
    group_->setToolTip(tr("Group of %1 values of the row sharing one scale").arg(groupSize));
}

const qb::Histogram* WeightView::shownHistogram() const {
    if (!stats_ || stats_->histograms.empty()) return nullptr;
    const size_t index = std::min(size_t(scale_->currentData().toInt()), stats_->histograms.size() - 1);
    return &stats_->histograms[index];
}

void WeightView::drawHistogram() {
    const qb::Histogram* h = shownHistogram();
    if (!h) return;
    const bool logAbs = h->scale == qb::HistogramScale::LogAbs;
    histogram_->setHistogram(*h, logAbs ? tr("|w|") : tr("w"), logAbs ? tr("|w| (log scale)") : tr("w"));
    histogram_->setLogCounts(logCounts_->isChecked());
    histogram_->setTitle(tr("%1: %2 bins of %3").arg(qtext(stats_->tensor)).arg(h->counts.size()).arg(logAbs ? tr("|w|") : tr("w")));
    drawProbe();
}

void WeightView::drawProbe() {
    const qb::Histogram* h = shownHistogram();
    statsPanel_->setProbe(probe_.get());
    if (!probe_ || !h || probe_->value_histogram.scale != h->scale) {
        histogram_->setOverlay(nullptr, {});
        histogram_->setMarks({}, {});
        return;
    }
    const QString format = qtext(probe_->format);
    histogram_->setOverlay(showQuantized_->isChecked() ? &probe_->value_histogram : nullptr, tr("Q(w) in %1").arg(format));
    const std::vector<float> marks = marksFor(probe_->levels, h->scale);
    const QString where = tr("row %1, cols %2–%3").arg(probe_->row).arg(probe_->first_col).arg(probe_->first_col + probe_->col_count - 1);
    if (marks.size() <= kMaxMarks) histogram_->setMarks(marks, tr("%1 levels (%2)").arg(format, where));
    else histogram_->setMarks({}, {});
    errorHistogram_->setHistogram(probe_->error_histogram, tr("Q(w) − w"), tr("quantization error Q(w) − w"));
    errorHistogram_->setLogCounts(logCounts_->isChecked());
    errorHistogram_->setTitle(tr("Error of %1 in %2 (RMSE %3)").arg(qtext(probe_->tensor), format, numberText(probe_->metrics.rmse, 4)));
}

qb::FormatProbeRequest WeightView::probeRequest() const {
    qb::FormatProbeRequest request;
    request.format = format_->currentText().toStdString();
    request.row = row_->value();
    request.group = group_->value();
    if (const qb::Histogram* h = shownHistogram()) {
        request.value_scale = h->scale;
        request.value_lo = h->edges.front();
        request.value_hi = h->edges.back();
        request.value_bins = int(h->counts.size());
    }
    return request;
}

void WeightView::scheduleProbe() {
    if (stats_ && format_->count() > 0) probeTimer_.start();
}

void WeightView::showProbe(FormatProbePtr probe) {
    const qb::FormatProbeRequest wanted = probeRequest();
    if (!stats_ || probe->tensor != stats_->tensor || probe->format != wanted.format || probe->row != wanted.row) return;
    probe_ = std::move(probe);
    drawProbe();
}

}  // namespace qbui
