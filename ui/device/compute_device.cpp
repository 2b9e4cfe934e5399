#include "ui/device/compute_device.h"

#include "core/util/error.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "ui/common/units.h"

namespace qbui {

ComputeDevice probeComputeDevice(const QString& preference) {
    qb::gpu::BackendChoice choice;
    QString problem;
    try {
        choice = qb::gpu::select_backend(preference.toStdString());
    } catch (const qb::Error& e) {
        problem = qtext(e.what());
        choice = qb::gpu::select_backend("cpu");
    }
    ComputeDevice device;
    device.description = qtext(choice.backend->description());
    device.notice = problem.isEmpty() ? qtext(choice.notice) : problem;
    if (const auto* vulkan = dynamic_cast<const qb::gpu::VulkanBackend*>(choice.backend.get()))
        device.name = QStringLiteral("Vulkan: ") + qtext(vulkan->device().info().name);
    else
        device.name = QStringLiteral("CPU");
    return device;
}

}  // namespace qbui
