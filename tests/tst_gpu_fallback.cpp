// Without any Vulkan driver (VK_DRIVER_FILES / VK_ICD_FILENAMES point to nothing, set before this
// process makes its first Vulkan call) Quantbench says why and computes on the CPU.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"

using namespace qb;

namespace {
const char* const kNoDriver = "no Vulkan driver found (VK_ERROR_INCOMPATIBLE_DRIVER)";
const char* const kNowhere = "/nonexistent/vulkan_icd.json";
}  // namespace

class GpuFallbackTest : public QObject {
    Q_OBJECT

    struct CliRun {
        int exit_code = -1;
        QByteArray out;
    };

    CliRun cli_devices(const QStringList& extra) {
        QProcess cli;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("VK_DRIVER_FILES", kNowhere);
        env.insert("VK_ICD_FILENAMES", kNowhere);
        cli.setProcessEnvironment(env);
        cli.start(QB_CLI_PATH, QStringList{"devices"} + extra);
        cli.waitForFinished(60000);
        return {cli.exitCode(), cli.readAllStandardOutput()};
    }

private slots:
    void initTestCase() {
        qputenv("VK_DRIVER_FILES", kNowhere);
        qputenv("VK_ICD_FILENAMES", kNowhere);
    }

    void reports_that_no_driver_was_found() {
        const gpu::DeviceStatus status = gpu::open_default_device();
        QVERIFY(!status.available());
        QCOMPARE(status.reason, std::string(kNoDriver));
    }

    void computes_on_the_cpu_with_a_notice_when_vulkan_is_asked_for() {
        for (const char* preference : {"auto", "vulkan"}) {
            gpu::BackendChoice choice = gpu::select_backend(preference);
            QCOMPARE(choice.backend->name(), std::string("cpu"));
            QCOMPARE(choice.notice, "Vulkan unavailable: " + std::string(kNoDriver) + "; computing on the CPU");
            const FormatInfo& f = format_by_name("q8_0");
            const std::vector<float> x(4 * 64, 0.5f);
            std::vector<uint8_t> bytes(f.tensor_bytes(4, 64));
            choice.backend->encode(f, 4, 64, x.data(), bytes.data());
            QVERIFY(bytes == encode_tensor(f, x, 4, 64));
        }
    }

    void computes_on_the_cpu_silently_when_asked_to() {
        const gpu::BackendChoice choice = gpu::select_backend("cpu");
        QCOMPARE(choice.backend->name(), std::string("cpu"));
        QVERIFY(choice.notice.empty());
    }

    void rejects_an_unknown_backend_name() {
        QVERIFY_THROWS_EXCEPTION(qb::Error, gpu::select_backend("cuda"));
    }

    void cli_devices_names_the_missing_driver() {
        const CliRun cli = cli_devices({});
        QCOMPARE(cli.exit_code, 0);
        const QString out = QString::fromUtf8(cli.out);
        QVERIFY2(out.contains(QString("no Vulkan device: ") + kNoDriver), qPrintable(out));
        QVERIFY2(out.contains("default backend: CPU"), qPrintable(out));
        QVERIFY2(out.contains(QString("notice: Vulkan unavailable: ") + kNoDriver), qPrintable(out));
    }

    void cli_devices_json_has_no_selected_device() {
        const CliRun cli = cli_devices({"--json"});
        QCOMPARE(cli.exit_code, 0);
        const QJsonObject report = QJsonDocument::fromJson(cli.out).object();
        QVERIFY(report["selected"].isNull());
        QCOMPARE(report["problem"].toString(), QString(kNoDriver));
        QVERIFY(report["devices"].toArray().isEmpty());
    }
};

QTEST_GUILESS_MAIN(GpuFallbackTest)
#include "tst_gpu_fallback.moc"
