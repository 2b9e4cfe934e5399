// The quantize run's compute device in the GUI: the run dialog offers it (defaulting to the setting) and
// records it in the run's command line, and a run on Vulkan writes the CPU run's bytes for a deterministic
// preset (on lavapipe here; skipped without a Vulkan device).
#include <QtTest>

#include <QComboBox>
#include <fstream>
#include <iterator>

#include "core/jobs/job.h"
#include "core/plan/presets.h"
#include "gpu/vk_device.h"
#include "tests/support/test_data.h"
#include "ui/runs/quantize_run.h"
#include "ui/runs/run_dialog.h"

using namespace qbui;

namespace {

std::string file_bytes(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

QComboBox* device_box(RunDialog& dialog) {
    for (QComboBox* box : dialog.findChildren<QComboBox*>())
        if (box->findData(QStringLiteral("vulkan")) >= 0) return box;
    return nullptr;
}

}  // namespace

class GuiRunDeviceTest : public QObject {
    Q_OBJECT

    const qb::Model& stories() {
        static const qb::Model model = qb::load_model(qbtest::stories260k("gguf"));
        return model;
    }

private slots:
    void run_dialog_offers_the_device_and_records_it_in_the_command() {
        RunRequest defaults;
        defaults.device = QStringLiteral("vulkan");
        const qb::QuantPlan plan = qb::preset_plan("q8_0", stories());
        RunDialog dialog(stories(), plan, qb::PlanTarget::Gguf, defaults);
        QComboBox* device = device_box(dialog);
        QVERIFY(device);
        QCOMPARE(device->currentData().toString(), QStringLiteral("vulkan"));
        QCOMPARE(dialog.request().device, QStringLiteral("vulkan"));
        QVERIFY(quantizeCliArguments(dialog.request()).join(' ').contains(QStringLiteral("--device vulkan")));
        device->setCurrentIndex(device->findData(QStringLiteral("cpu")));
        QCOMPARE(dialog.request().device, QStringLiteral("cpu"));
        QVERIFY(!quantizeCliArguments(dialog.request()).contains(QStringLiteral("--device")));
    }

    void a_run_on_vulkan_writes_the_cpu_bytes() {
        if (!qb::gpu::open_default_device().available()) QSKIP("no Vulkan device");
        const QString dir = QString::fromStdString(qbtest::scratch_dir().string());
        QString outputs[2];
        int i = 0;
        for (const QString device : {QStringLiteral("cpu"), QStringLiteral("vulkan")}) {
            RunRequest request;
            request.modelPath = QString::fromStdString(qbtest::stories260k("gguf").string());
            request.plan = qb::preset_plan("q4_0", stories());
            request.output = dir + QStringLiteral("/stories.q4_0.") + device + QStringLiteral(".gguf");
            request.threads = 2;
            request.device = device;
            qb::JobControl control;
            const qb::RunResult run = runQuantize(stories(), request, control);
            const bool recorded = run.provenance.command_line.find("--device vulkan") != std::string::npos;
            QCOMPARE(recorded, device == QStringLiteral("vulkan"));
            outputs[i++] = request.output;
        }
        QVERIFY(file_bytes(outputs[0]) == file_bytes(outputs[1]));
    }
};

QTEST_MAIN(GuiRunDeviceTest)
#include "tst_gui_run_device.moc"
