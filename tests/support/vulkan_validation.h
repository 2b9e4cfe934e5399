// The fixture of the Vulkan tests: the default device opened with VK_LAYER_KHRONOS_validation on, and
// the check that the layer reported nothing, so every test also fails on any validation message:
//     void initTestCase() {
//         const std::string problem = qbtest::open_validated_device(device_);
//         QVERIFY2(problem.empty(), problem.c_str());
//     }
//     void cleanup() {
//         const std::string messages = qbtest::take_validation_messages(*device_);
//         QVERIFY2(messages.empty(), messages.c_str());
//     }
#pragma once
#include <memory>
#include <string>

#include "gpu/vk_device.h"

namespace qbtest {

// Opens the default Vulkan device with the validation layer into `device`. Returns why it could not
// ("" on success): no device, or the layer is not installed (the tests would then check nothing).
std::string open_validated_device(std::shared_ptr<qb::gpu::Device>& device);
// The warnings and errors the device's validation layer reported since the last call, one a line,
// "" when none; forgets them, so that the next test starts clean.
std::string take_validation_messages(const qb::gpu::Device& device);

}  // namespace qbtest
