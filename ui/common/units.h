// How numbers read in the GUI: sizes in KiB/MiB/GiB, shapes "64 × 172", counts with thousands
// separators, durations "1:05" — one spelling everywhere.
#pragma once
#include <QString>
#include <cstdint>
#include <string>
#include <vector>

namespace qbui {

QString bytesText(uint64_t bytes);                  // "16.0 KiB"
QString shapeText(const std::vector<int64_t>& shape);  // "64 × 172"
QString countText(int64_t count);                   // "260,032"
QString durationText(double seconds);               // "0.42 s", "1:05", "1:02:03"
QString numberText(double value, int significant = 4);  // "0.0213", "1.2e-05", "inf"
inline QString qtext(const std::string& s) { return QString::fromStdString(s); }

}  // namespace qbui
