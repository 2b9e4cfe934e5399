#include "ui/main/versions.h"

#include <H5public.h>
#include <QStringList>
#include <qcustomplot.h>
#include <vulkan/vulkan_core.h>

namespace qbui {

QString quantbenchVersion() { return QStringLiteral(QB_VERSION); }

QString versionsText() {
    return QStringList{
        QStringLiteral("Quantbench %1").arg(quantbenchVersion()),
        QStringLiteral("Qt %1 (built with %2)").arg(QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR)),
        QStringLiteral("QCustomPlot %1").arg(QStringLiteral(QCUSTOMPLOT_VERSION_STR)),
        QStringLiteral("HDF5 %1.%2.%3").arg(H5_VERS_MAJOR).arg(H5_VERS_MINOR).arg(H5_VERS_RELEASE),
        QStringLiteral("Vulkan headers 1.%1.%2").arg(VK_API_VERSION_MINOR(VK_HEADER_VERSION_COMPLETE)).arg(VK_HEADER_VERSION),
        QStringLiteral("Compiler %1").arg(QStringLiteral(__VERSION__)),
    }.join(QLatin1Char('\n'));
}

}  // namespace qbui
