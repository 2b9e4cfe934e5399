// GPTQ's block update on the Vulkan device (gpu/gptq_kernel.h, gptq_update.comp) against the CPU's, on the
// default device with the validation layer on: every test also fails on any validation message.
// The update itself: each element within gptq_update_tolerance of the CPU's (bit-identical where the
// device fuses its multiply-adds; lavapipe rounds the product and the sum separately).
// Stated tolerance for whole GPTQ runs: at most kCodeFraction of the encoded bytes may differ (an update
// one rounding apart can flip a code, which then propagates along its row) and the Hessian-weighted error
// within kErrorTolerance relative. On lavapipe every run below gives identical bytes (the test logs the
// counts).
#include <QtTest>

#include <random>

#include "core/algo/algorithm.h"
#include "core/algo/gptq.h"
#include "core/algo/linalg.h"
#include "core/backend/backend.h"
#include "core/model/model.h"
#include "core/pipeline/quantize_job.h"
#include "core/store/text_file.h"
#include "gpu/gptq_kernel.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/support/calibrated_layer.h"
#include "tests/support/random_layer.h"
#include "tests/support/test_data.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

constexpr double kCodeFraction = 1e-3;
constexpr double kErrorTolerance = 1e-4;

std::vector<float> uniform(int64_t count, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> x(static_cast<size_t>(count));
    for (float& v : x) v = u(rng);
    return x;
}

struct Comparison {
    int64_t differing_bytes = 0;
    int64_t bytes = 0;
    double cpu_error = 0, gpu_error = 0;
    std::string device;
};

Comparison compare(const QuantizeRequest& cpu_request, Backend& gpu) {
    QuantizeRequest gpu_request = cpu_request;
    gpu_request.backend = &gpu;
    const QuantizeResult cpu = quantize_matrix("gptq", cpu_request);
    const QuantizeResult on_gpu = quantize_matrix("gptq", gpu_request);
    Comparison c;
    c.bytes = int64_t(cpu.bytes.size());
    for (size_t i = 0; i < cpu.bytes.size(); ++i) c.differing_bytes += cpu.bytes[i] != on_gpu.bytes[i];
    c.cpu_error = cpu.hessian_error;
    c.gpu_error = on_gpu.hessian_error;
    c.device = on_gpu.details.value("device", "");
    return c;
}

std::string problem_of(const Comparison& c, const std::string& what) {
    const double fraction = double(c.differing_bytes) / double(c.bytes);
    const double relative = std::fabs(c.gpu_error - c.cpu_error) / c.cpu_error;
    qInfo("%s: %lld of %lld bytes differ, Hessian-weighted error %.9g (cpu) vs %.9g (%s), relative %.3g",
          what.c_str(), (long long)c.differing_bytes, (long long)c.bytes, c.cpu_error, c.gpu_error, c.device.c_str(),
          relative);
    if (c.device != "vulkan") return what + ": the update did not run on the device (" + c.device + ")";
    if (fraction > kCodeFraction) return what + ": " + std::to_string(c.differing_bytes) + " bytes differ";
    if (!(relative <= kErrorTolerance)) return what + ": Hessian-weighted errors differ by " + std::to_string(relative);
    return {};
}

}  // namespace

class GpuGptqTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;
    std::unique_ptr<gpu::VulkanBackend> backend_;

    // Feeds the same block errors (a function of the CPU's current block columns) to the CPU's and the
    // device's updater; returns how many elements end outside the rounding bound of gpu/gptq_kernel.h.
    int64_t elements_outside_the_bound(int64_t rows, int64_t cols, int64_t block, VkDeviceSize slab_budget) {
        const std::vector<float> w0 = uniform(rows * cols, 1);
        std::vector<float> u = uniform(cols * cols, 2, 0.05f);
        std::vector<float> on_cpu = w0, on_gpu = w0;
        std::vector<double> magnitude(w0.size(), 0.0);  // Σ over updates of Σ_t |e_t u_t|
        const std::unique_ptr<GptqUpdater> cpu = make_cpu_gptq_updater(on_cpu.data(), rows, cols, u.data());
        gpu::DeviceGptqUpdater gpu(*device_, on_gpu.data(), rows, cols, u.data(), slab_budget);
        for (int64_t i1 = 0; i1 < cols; i1 += block) {
            const int64_t i2 = std::min(cols, i1 + block), width = i2 - i1;
            std::vector<float> err(size_t(rows * width));
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t k = 0; k < width; ++k) err[size_t(r * width + k)] = 0.25f * on_cpu[size_t(r * cols + i1 + k)] - 0.01f;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = i2; c < cols; ++c)
                    for (int64_t k = 0; k < width; ++k)
                        magnitude[size_t(r * cols + c)] += std::fabs(double(err[size_t(r * width + k)]) * u[size_t((i1 + k) * cols + c)]);
            cpu->update(err.data(), i1, i2, std::min(cols, i2 + block));
            gpu.update(err.data(), i1, i2, std::min(cols, i2 + block));
        }
        int64_t outside = 0, differing = 0;
        for (size_t i = 0; i < w0.size(); ++i) {
            const double diff = std::fabs(double(on_cpu[i]) - on_gpu[i]);
            differing += diff != 0;
            if (diff <= gpu::gptq_update_tolerance(block) * magnitude[i]) continue;
            if (outside++ < 3)
                qInfo("row %lld col %lld: %.9g (cpu) vs %.9g", (long long)(i / size_t(cols)), (long long)(i % size_t(cols)),
                      on_cpu[i], on_gpu[i]);
        }
        qInfo("%lld of %zu elements differ from the CPU's", (long long)differing, w0.size());
        return outside;
    }

private slots:
    void initTestCase() {
        const std::string problem = qbtest::open_validated_device(device_);
        QVERIFY2(problem.empty(), problem.c_str());
        backend_ = std::make_unique<gpu::VulkanBackend>(device_);
    }

    void cleanup() {
        const std::string messages = qbtest::take_validation_messages(*device_);
        QVERIFY2(messages.empty(), messages.c_str());
    }

    void block_update_agrees_with_the_cpu_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("block");
        QTest::addColumn<int>("slab_kib");
        QTest::newRow("128 columns a block, one slab") << 200 << 300 << 128 << 0;
        QTest::newRow("odd block, slabs of 37 rows") << 130 << 257 << 45 << 37 * 257 * 4 / 1024 + 1;
        QTest::newRow("block of 300 (sums restart every 128)") << 70 << 700 << 300 << 0;
        // llvmpipe ends an invocation's loops after 65,535 iterations in all: a wide lazy batch sums 1024 terms
        QTest::newRow("block of 1024 (loop budget)") << 64 << 1100 << 1024 << 0;
    }

    void block_update_agrees_with_the_cpu() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(int, block);
        QFETCH(int, slab_kib);
        QCOMPARE(elements_outside_the_bound(rows, cols, block, VkDeviceSize(slab_kib) * 1024), int64_t(0));
    }

    void reports_what_it_can_hold() {
        QVERIFY(gpu::can_update_gptq_on(*device_, 11008, 4096, 128));
        QVERIFY(!gpu::can_update_gptq_on(*device_, 64, 4096, 128, 1024));  // a row is larger than a slab
        QVERIFY(backend_->accelerates_gptq(4096, 4096, 128));
        QVERIFY(!make_cpu_backend(1)->accelerates_gptq(4096, 4096, 128));
    }

    // GPTQ on stories260K's layers, calibrated on the in-domain text: q4_0 where rows are whole blocks, a
    // per-channel int4 grid for ffn_down (172 columns).
    void gptq_on_calibrated_stories260k_layers_matches_the_cpu() {
        const Model model = load_model(qbtest::stories260k("gguf"));
        const TextFile text = read_text_file(qbtest::data_path("text/tinystories-snippet-30k.txt"));
        CalibrationOptions options;
        options.tokens = 2048;
        options.ctx = 256;
        const std::vector<std::string> tensors = {"blk.0.attn_q", "blk.2.attn_output", "blk.1.ffn_up", "blk.4.ffn_down"};
        const Calibration calibration = calibrate_for(model, text, options, tensors, true, nullptr, 2);
        for (const std::string& name : tensors) {
            const TensorView& view = model.tensor(name);
            const std::vector<float> weight = view.to_f32(2);
            const ActivationStats& input = calibration.input_of(name);
            QVERIFY(input.hessian);
            for (const bool act_order : {false, true}) {
                QuantizeRequest r;
                r.weight = weight.data();
                r.rows = view.rows();
                r.cols = view.cols();
                r.format = &format_by_name(view.cols() % 32 == 0 ? "q4_0" : "int4_pc_sym");
                r.hessian = input.hessian->values;
                r.options = {{"act_order", act_order}, {"block_size", 32}};
                r.threads = 2;
                const std::string problem =
                    problem_of(compare(r, *backend_), name + " " + r.format->name + (act_order ? " act_order" : ""));
                QVERIFY2(problem.empty(), problem.c_str());
            }
        }
    }

    // A random 640 x 1024 layer with a correlated Hessian: dynamic groups (grids fitted to updated
    // weights), static groups with act_order, a block size over 128 and a legacy ggml format.
    void gptq_on_a_random_larger_layer_matches_the_cpu_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("options");
        QTest::newRow("int4_g128_asym") << "int4_g128_asym" << R"({})";
        QTest::newRow("int3_g32_sym act_order") << "int3_g32_sym" << R"({"act_order": true})";
        QTest::newRow("q4_1 block 256") << "q4_1" << R"({"block_size": 256})";
    }

    void gptq_on_a_random_larger_layer_matches_the_cpu() {
        QFETCH(QString, format);
        QFETCH(QString, options);
        const int64_t rows = 640, cols = 1024;
        const std::vector<float> weight = qbtest::random_weights(rows, cols, 5);
        const std::vector<double> hessian = qbtest::ar1_hessian(cols, 0.9, 6);
        QuantizeRequest r;
        r.weight = weight.data();
        r.rows = rows;
        r.cols = cols;
        r.format = &format_by_name(format.toStdString());
        r.hessian = hessian;
        r.options = nlohmann::json::parse(options.toStdString());
        r.threads = 2;
        const std::string problem = problem_of(compare(r, *backend_), format.toStdString() + " " + options.toStdString());
        QVERIFY2(problem.empty(), problem.c_str());
    }
};

QTEST_GUILESS_MAIN(GpuGptqTest)
#include "tst_gpu_gptq.moc"
