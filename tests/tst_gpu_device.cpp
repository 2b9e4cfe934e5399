// Device choice, the RAII layer (buffers, pipelines, sequences with timestamps) and dispatch folding,
// on the default Vulkan device with the validation layer on.
#include <QtTest>

#include <cstring>

#include "core/util/error.h"
#include "core/util/half.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"
#include "gpu/vulkan_backend.h"
#include "tests/support/vulkan_validation.h"
#include "tests/support/error_text.h"

using namespace qb;
using gpu::DeviceInfo;
using gpu::DeviceType;

namespace {

DeviceInfo usable(uint32_t index, std::string name, DeviceType type) {
    DeviceInfo d;
    d.index = index;
    d.name = std::move(name);
    d.type = type;
    d.api_version = VK_API_VERSION_1_3;
    d.compute_queue_family = 0;
    d.storage_8bit = d.storage_16bit = true;
    return d;
}

}  // namespace

class GpuDeviceTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;

private slots:
    void initTestCase() { QB_VERIFY_EMPTY(qbtest::open_validated_device(device_)); }
    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void prefers_discrete_then_integrated_then_virtual_then_cpu() {
        const std::vector<DeviceInfo> devices = {usable(0, "llvmpipe", DeviceType::Cpu), usable(1, "Intel UHD", DeviceType::Integrated),
                                                 usable(2, "NVIDIA H100", DeviceType::Discrete), usable(3, "virtio", DeviceType::Virtual)};
        QCOMPARE(gpu::choose_device(devices, ""), size_t(2));
        QCOMPARE(gpu::choose_device({devices[0], devices[1], devices[3]}, ""), size_t(1));
        QCOMPARE(gpu::choose_device({devices[0], devices[3]}, ""), size_t(1));
    }

    void skips_devices_it_cannot_use_and_says_why() {
        std::vector<DeviceInfo> devices = {usable(0, "old GPU", DeviceType::Discrete), usable(1, "llvmpipe", DeviceType::Cpu)};
        devices[0].api_version = VK_API_VERSION_1_1;
        QCOMPARE(gpu::choose_device(devices, ""), size_t(1));
        QCOMPARE(devices[0].unusable_reason(), std::string("supports only Vulkan 1.1.0 (1.2 needed)"));
        devices[1].storage_8bit = false;
        QCOMPARE(error_message([&] { gpu::choose_device(devices, ""); }),
                 std::string("vulkan: no usable Vulkan device: 'old GPU' supports only Vulkan 1.1.0 (1.2 needed)"));
    }

    void obeys_a_forced_index_or_name() {
        const std::vector<DeviceInfo> devices = {usable(0, "NVIDIA H100", DeviceType::Discrete), usable(1, "llvmpipe (LLVM 15)", DeviceType::Cpu)};
        QCOMPARE(gpu::choose_device(devices, "1"), size_t(1));
        QCOMPARE(gpu::choose_device(devices, "LLVMPIPE"), size_t(1));
        QCOMPARE(error_message([&] { gpu::choose_device(devices, "radeon"); }),
                 std::string("vulkan: QB_VULKAN_DEVICE=radeon matches none of the devices: 0 'NVIDIA H100', 1 'llvmpipe (LLVM 15)'"));
    }

    void reports_the_device_limits_that_chunking_relies_on() {
        const DeviceInfo& info = device_->info();
        QVERIFY(info.max_storage_buffer_range >= (uint64_t(1) << 27));
        QVERIFY(info.max_workgroup_count[0] >= 65535);
        QVERIFY(info.unusable_reason().empty());
        QVERIFY(!info.name.empty() && !info.driver_name.empty());
    }

    void folds_more_than_65535_workgroups_into_two_dimensions() {
        // encode_half with one invocation per workgroup: 70000 values need 70000 workgroups
        const uint32_t values = 70000;
        const gpu::Pipeline& pipeline = device_->pipeline({"encode_half", {1, 0}, 2, sizeof(uint32_t)});
        gpu::Buffer input(*device_, values * sizeof(float), gpu::MemoryRole::Upload);
        gpu::Buffer output(*device_, values * sizeof(uint16_t), gpu::MemoryRole::Download);
        auto* x = reinterpret_cast<float*>(input.mapped().data());
        for (uint32_t i = 0; i < values; ++i) x[i] = float(i) * 0.25f - 1000.0f;
        gpu::Sequence sequence(*device_);
        sequence.begin();
        sequence.mark();
        sequence.dispatch(pipeline, {&input, &output}, &values, values);
        sequence.mark();
        sequence.submit();
        sequence.wait();
        const auto* h = reinterpret_cast<const uint16_t*>(output.mapped().data());
        for (uint32_t i = 0; i < values; ++i)
            if (h[i] != fp32_to_fp16(x[i])) QFAIL(qPrintable(QString("value %1 differs").arg(i)));
        const std::vector<double> marks = sequence.mark_seconds();
        if (device_->info().timestamps) {
            QCOMPARE(marks.size(), size_t(2));
            QVERIFY(marks[1] > 0.0);
        }
    }

    void auto_prefers_the_cpu_backend_to_a_software_device_unless_one_is_named() {
        if (device_->info().type != DeviceType::Cpu) QSKIP("a hardware Vulkan device is present");
        const gpu::BackendChoice automatic = gpu::select_backend("auto");
        QCOMPARE(automatic.backend->name(), std::string("cpu"));
        QVERIFY2(automatic.notice.starts_with("only a software Vulkan device"), automatic.notice.c_str());
        QCOMPARE(gpu::select_backend("vulkan").backend->name(), std::string("vulkan"));
        qputenv("QB_VULKAN_DEVICE", device_->info().name.c_str());
        const gpu::BackendChoice named = gpu::select_backend("auto");
        qunsetenv("QB_VULKAN_DEVICE");
        QCOMPARE(named.backend->name(), std::string("vulkan"));
        QVERIFY(named.notice.empty());
    }

    void opens_the_device_named_in_qb_vulkan_device() {
        qputenv("QB_VULKAN_DEVICE", "no such gpu");
        const gpu::DeviceStatus status = gpu::open_default_device();
        qunsetenv("QB_VULKAN_DEVICE");
        QVERIFY(!status.available());
        QVERIFY2(status.reason.starts_with("QB_VULKAN_DEVICE=no such gpu matches none of the devices: 0 '"), status.reason.c_str());
    }
};

QTEST_GUILESS_MAIN(GpuDeviceTest)
#include "tst_gpu_device.moc"
