// The fixture of the Vulkan tests: the default device opened with VK_LAYER_KHRONOS_validation on, and
// the check that the layer reported nothing, so every test also fails on any validation message:
//     void initTestCase() { QB_VERIFY_EMPTY(qbtest::open_validated_device(device_)); }
//     void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }
#pragma once
#include <QtTest>
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

// Fails the current test, with `text` as the message, unless the std::string `text` is empty.
#define QB_VERIFY_EMPTY(text)                                       \
    do {                                                            \
        const std::string qb_verify_text_ = (text);                 \
        QVERIFY2(qb_verify_text_.empty(), qb_verify_text_.c_str()); \
    } while (false)
