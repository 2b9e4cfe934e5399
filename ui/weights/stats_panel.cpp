#include "ui/weights/stats_panel.h"

#include <QFormLayout>
#include <QLabel>
#include <QStringList>

#include "core/analysis/weight_stats.h"
#include "core/analysis/format_probe.h"
#include "ui/common/units.h"

namespace qbui {
namespace {

constexpr int kTopChannelsShown = 4;

QString channelsText(const std::vector<qb::ChannelOutlier>& channels) {
    QStringList parts;
    for (size_t i = 0; i < channels.size() && i < size_t(kTopChannelsShown); ++i)
        parts << QStringLiteral("%1 (%2)").arg(channels[i].index).arg(numberText(channels[i].absmax, 3));
    return parts.join(QStringLiteral(", "));
}

QString tailsText(const std::vector<qb::TailFraction>& tails) {
    QStringList parts;
    for (const auto& t : tails)
        parts << QStringLiteral("> %1σ: %2 (%3%)").arg(t.k).arg(countText(int64_t(t.count))).arg(100.0 * t.fraction, 0, 'f', 3);
    return parts.join(QStringLiteral("\n"));
}

}  // namespace

StatsPanel::StatsPanel(QWidget* parent) : QWidget(parent), form_(new QFormLayout(this)) {
    form_->setLabelAlignment(Qt::AlignRight);
    tensor_ = addLine(tr("Tensor"));
    count_ = addLine(tr("Values"));
    mean_ = addLine(tr("Mean"));
    std_ = addLine(tr("Std"));
    range_ = addLine(tr("Min / max"));
    skewness_ = addLine(tr("Skewness"));
    kurtosis_ = addLine(tr("Excess kurtosis"));
    tails_ = addLine(tr("Outliers |w|"));
    nonFinite_ = addLine(tr("NaN / Inf"));
    topRows_ = addLine(tr("Top output ch."));
    topCols_ = addLine(tr("Top input ch."));
    probeFormat_ = addLine(tr("Format"));
    probeError_ = addLine(tr("Error"));
    probeLevels_ = addLine(tr("Grid levels"));
}

QLabel* StatsPanel::addLine(const QString& label) {
    auto* value = new QLabel(this);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form_->addRow(label + QLatin1Char(':'), value);
    values_.push_back(value);
    return value;
}

void StatsPanel::setStats(const qb::WeightStats& s) {
    const qb::Moments& m = s.moments;
    tensor_->setText(QStringLiteral("%1  %2 × %3  %4").arg(qtext(s.tensor)).arg(s.rows).arg(s.cols).arg(qtext(s.storage_format)));
    count_->setText(countText(int64_t(m.count)));
    mean_->setText(numberText(m.mean, 5));
    std_->setText(numberText(m.std, 5));
    range_->setText(QStringLiteral("%1 / %2").arg(numberText(m.min, 5), numberText(m.max, 5)));
    skewness_->setText(numberText(m.skewness, 4));
    kurtosis_->setText(numberText(m.excess_kurtosis, 4));
    tails_->setText(tailsText(s.tails));
    nonFinite_->setText(QStringLiteral("%1 / %2").arg(s.nan_count).arg(s.inf_count));
    topRows_->setText(channelsText(s.channels.top_rows));
    topCols_->setText(channelsText(s.channels.top_cols));
    setProbe(nullptr);
}

void StatsPanel::setProbe(const qb::FormatProbe* probe) {
    if (!probe) {
        for (QLabel* label : {probeFormat_, probeError_, probeLevels_}) label->clear();
        return;
    }
    const qb::ErrorMetrics& e = probe->metrics;
    probeFormat_->setText(QStringLiteral("%1, %2 bits/w").arg(qtext(probe->format)).arg(e.bits_per_weight, 0, 'f', 3));
    probeError_->setText(tr("RMSE %1, max %2\nSQNR %3 dB, cosine %4")
                             .arg(numberText(e.rmse, 4), numberText(e.max_abs_error, 4), numberText(e.sqnr_db, 4))
                             .arg(e.cosine, 0, 'f', 6));
    probeLevels_->setText(tr("%1 used by row %2,\ncolumns %3–%4")
                              .arg(probe->levels.size())
                              .arg(probe->row)
                              .arg(probe->first_col)
                              .arg(probe->first_col + probe->col_count - 1));
}

void StatsPanel::clear() {
    for (QLabel* value : values_) value->clear();
}

QString StatsPanel::text() const {
    QStringList lines;
    for (int row = 0; row < form_->rowCount(); ++row) {
        auto* label = qobject_cast<QLabel*>(form_->itemAt(row, QFormLayout::LabelRole)->widget());
        auto* value = qobject_cast<QLabel*>(form_->itemAt(row, QFormLayout::FieldRole)->widget());
        lines << label->text() + QLatin1Char(' ') + value->text();
    }
    return lines.join(QLatin1Char('\n'));
}

}  // namespace qbui
