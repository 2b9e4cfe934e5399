// The versions of Quantbench and what it was built with, for About and `quantbench --version`.
#pragma once
#include <QString>

namespace qbui {

QString quantbenchVersion();  // "0.1.0"
QString versionsText();       // several lines: Qt (build / run time), QCustomPlot, HDF5, Vulkan headers, compiler

}  // namespace qbui
