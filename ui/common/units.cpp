#include "ui/common/units.h"

#include <QLocale>
#include <QStringList>
#include <cmath>

namespace qbui {

QString bytesText(uint64_t bytes) {
    constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = double(bytes);
    int unit = 0;
    while (value >= 1024.0 && unit < 4) {
        value /= 1024.0;
        ++unit;
    }
    return unit == 0 ? QStringLiteral("%1 B").arg(bytes) : QStringLiteral("%1 %2").arg(value, 0, 'f', 1).arg(kUnits[unit]);
}

QString shapeText(const std::vector<int64_t>& shape) {
    QStringList dims;
    for (int64_t d : shape) dims << QString::number(d);
    return dims.join(QStringLiteral(" × "));
}

QString countText(int64_t count) { return QLocale(QLocale::English).toString(qlonglong(count)); }

QString durationText(double seconds) {
    if (seconds < 60) return QStringLiteral("%1 s").arg(seconds, 0, 'f', seconds < 10 ? 2 : 1);
    const auto total = int64_t(std::llround(seconds));
    const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
    const QString minutesSeconds = QStringLiteral("%1:%2").arg(m, h ? 2 : 1, 10, QLatin1Char('0')).arg(s, 2, 10, QLatin1Char('0'));
    return h ? QStringLiteral("%1:%2").arg(h).arg(minutesSeconds) : minutesSeconds;
}

QString numberText(double value, int significant) {
    if (std::isnan(value)) return QStringLiteral("–");
    if (std::isinf(value)) return value > 0 ? QStringLiteral("∞") : QStringLiteral("−∞");
    return QString::number(value, 'g', significant);
}

}  // namespace qbui
