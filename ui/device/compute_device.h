// Where jobs that take a qb::Backend compute, for the status bar and About: "Vulkan: <device name>"
// or "CPU", the backend's one-line description, and the notice when Vulkan was asked for but the CPU
// is used. Probing creates a Vulkan instance (tens of milliseconds or more): call it off the GUI thread.
#pragma once
#include <QString>

namespace qbui {

struct ComputeDevice {
    QString name;         // "Vulkan: NVIDIA H100 80GB HBM3", "CPU"
    QString description;  // the backend's description
    QString notice;       // why a Vulkan request ended on the CPU, or empty
};

// preference: "auto", "vulkan" or "cpu"; an unknown one falls back to the CPU with a notice. Never throws.
ComputeDevice probeComputeDevice(const QString& preference);

}  // namespace qbui
