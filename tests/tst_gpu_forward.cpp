// The forward pass with its weight products on the Vulkan device (gpu/gpu_linear.h) against the CPU's:
// stories260K in f32 and llama.cpp's Q4_K_M file (Q5_0 / Q8_0 / F16 tensors multiplied from their stored
// bytes) evaluated on the TinyStories snippet, under the validation layer (every test also fails on any
// validation message). The kernels sum in another order than the CPU product, so logits agree to f32
// rounding, not bit for bit: perplexities within kPplTolerance (relative) of the CPU's, logits within
// kLogitTolerance x the largest |logit| of the chunk, and both perplexities within 0.1% of llama.cpp's.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/infer/forward.h"
#include "core/infer/perplexity.h"
#include "core/model/model.h"
#include "core/quant/format.h"
#include "gpu/gpu_linear.h"
#include "gpu/vk_device.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

constexpr double kPplTolerance = 1e-4;
constexpr double kLogitTolerance = 1e-5;

double relative(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

struct LogitDiff {
    double max_abs = 0, max_logit = 0;
};
LogitDiff compare_logits(const std::vector<float>& got, const std::vector<float>& want) {
    LogitDiff d;
    for (size_t i = 0; i < want.size(); ++i) {
        d.max_abs = std::max(d.max_abs, std::fabs(double(got[i]) - want[i]));
        d.max_logit = std::max(d.max_logit, std::fabs(double(want[i])));
    }
    return d;
}

}  // namespace

class GpuForwardTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;

private slots:
    void initTestCase() { QB_VERIFY_EMPTY(qbtest::open_validated_device(device_)); }
    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void perplexity_on_the_gpu_equals_the_cpu_one_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<double>("reference");
        QTest::newRow("f32") << "gguf/stories260K-f32.gguf" << 5.3856;
        QTest::newRow("Q4_K_M") << "gguf-llamacpp/stories260K-Q4_K_M.gguf" << 5.4772;
    }
    void perplexity_on_the_gpu_equals_the_cpu_one() {
        QFETCH(QString, file);
        QFETCH(double, reference);
        const qbtest::LoadedModel l(qbtest::data_path("models/stories260K/" + file.toStdString()), qbtest::tinystories_snippet());
        const PerplexityResult cpu = evaluate_perplexity(l.net, l.text, {});

        gpu::GpuLinearExecutor gpu(device_);
        EvalOptions options;
        options.forward.executor = &gpu;
        const PerplexityResult on_gpu = evaluate_perplexity(l.net, l.text, options);
        QCOMPARE(on_gpu.tokens, cpu.tokens);
        QVERIFY2(relative(on_gpu.ppl, cpu.ppl) <= kPplTolerance,
                 qPrintable(QString("gpu %1 cpu %2").arg(on_gpu.ppl, 0, 'f', 8).arg(cpu.ppl, 0, 'f', 8)));
        QVERIFY2(relative(cpu.ppl, reference) < 1e-3, qPrintable(QString::number(cpu.ppl, 'f', 6)));
        QVERIFY2(relative(on_gpu.ppl, reference) < 1e-3, qPrintable(QString::number(on_gpu.ppl, 'f', 6)));
        qInfo("%s: ppl gpu %.8f cpu %.8f (relative difference %.2e), llama.cpp %.4f; %.1f KiB of weights resident",
              qPrintable(file), on_gpu.ppl, cpu.ppl, relative(on_gpu.ppl, cpu.ppl), reference,
              double(gpu.resident_bytes()) / 1024);

        // One chunk's logits, and every product of it on the device (all formats of both files have kernels).
        const std::span<const int32_t> chunk(l.text.tokens.data(), 512);
        ForwardStats stats;
        ForwardOptions forward;
        forward.executor = &gpu;
        forward.stats = &stats;
        const LogitDiff d = compare_logits(l.net.forward(chunk, forward), l.net.forward(chunk));
        qInfo("%s: logits max |gpu - cpu| %.3e (largest |logit| %.2f)", qPrintable(file), d.max_abs, d.max_logit);
        QVERIFY2(d.max_abs <= kLogitTolerance * d.max_logit, qPrintable(QString::number(d.max_abs)));
        QCOMPARE(stats.cpu_products, int64_t(0));
        QCOMPARE(stats.executor_products, int64_t(5 * 7 + 1));  // 5 layers of q, k, v, o, gate, up, down; classifier
        QCOMPARE(gpu.streamed_uploads(), int64_t(0));
    }

    // Weights uploaded per product (no resident budget) and split into several slabs give the resident
    // weights' logits bit for bit: the same kernels sum in the same order.
    void streamed_weights_in_slabs_give_the_resident_logits() {
        const qbtest::LoadedModel l(qbtest::stories260k("gguf"), qbtest::tinystories_snippet());
        const std::span<const int32_t> chunk(l.text.tokens.data(), 100);
        gpu::GpuLinearExecutor resident(device_);
        gpu::GpuLinearExecutor streamed(device_, {.resident_budget_bytes = 0, .slab_budget = 16 << 10});
        ForwardOptions a, b;
        a.executor = &resident;
        b.executor = &streamed;
        const std::vector<float> want = l.net.forward(chunk, a), got = l.net.forward(chunk, b);
        QVERIFY(got == want);
        QCOMPARE(streamed.resident_bytes(), int64_t(0));
        QCOMPARE(streamed.streamed_uploads(), int64_t(5 * 7 + 1));
        QVERIFY(resident.resident_bytes() > 0);
        resident.release();
        QCOMPARE(resident.resident_bytes(), int64_t(0));
    }

    // HF q/k weights (rows stored in rotate-half order) run on the device, their outputs put back in order.
    void permuted_rows_run_on_the_device() {
        const qbtest::LoadedModel l(qbtest::stories260k("hf"), qbtest::tinystories_snippet());
        const std::span<const int32_t> chunk(l.text.tokens.data(), 64);
        gpu::GpuLinearExecutor gpu(device_);
        ForwardStats stats;
        ForwardOptions options;
        options.executor = &gpu;
        options.stats = &stats;
        const LogitDiff d = compare_logits(l.net.forward(chunk, options), l.net.forward(chunk));
        QVERIFY2(d.max_abs <= kLogitTolerance * d.max_logit, qPrintable(QString::number(d.max_abs)));
        QCOMPARE(stats.cpu_products, int64_t(0));
        QCOMPARE(stats.executor_products, int64_t(5 * 7 + 1));
    }

    // A format without an in-place reader on the device (int8_pt_sym: one scale for the whole tensor) and
    // an overridden tensor (f32 replacement) run on the CPU; the rest on the device; the logits still match.
    void declined_and_overridden_products_run_on_the_cpu() {
        Model model = load_model(qbtest::stories260k("gguf"));
        const FormatInfo& per_tensor = format_by_name("int8_pt_sym");
        for (TensorView& t : model.tensors)
            if (t.name == "blk.1.ffn_up") {
                auto bytes = std::make_shared<std::vector<uint8_t>>(encode_tensor(per_tensor, t.to_f32(), t.rows(), t.cols()));
                t.format = &per_tensor;
                t.data = {bytes->data(), bytes->size()};
                t.keep_alive = bytes;
                t.file_backed = false;
            }
        const Transformer net(model);
        gpu::GpuLinearExecutor gpu(device_);
        QVERIFY(!gpu.accepts(model.tensor("blk.1.ffn_up")));
        const EvalText text = evaluation_text(model_tokenizer(model), qbtest::tinystories_snippet());
        const std::span<const int32_t> chunk(text.tokens.data(), 64);
        const WeightOverrides overrides = {{"blk.0.ffn_up", net.weight("blk.0.ffn_up")}};
        ForwardStats stats;
        ForwardOptions options;
        options.executor = &gpu;
        options.stats = &stats;
        options.overrides = &overrides;
        ForwardOptions on_cpu;
        on_cpu.overrides = &overrides;
        const LogitDiff d = compare_logits(net.forward(chunk, options), net.forward(chunk, on_cpu));
        QVERIFY2(d.max_abs <= kLogitTolerance * d.max_logit, qPrintable(QString::number(d.max_abs)));
        QCOMPARE(stats.cpu_products, int64_t(2));
        QCOMPARE(stats.executor_products, int64_t(5 * 7 + 1 - 2));
    }

    void eval_cli_runs_on_the_chosen_device() {
        const std::string model = qbtest::stories260k("gguf").string();
        const std::string text = qbtest::data_path("text/tinystories-snippet-30k.txt").string();
        auto r = qbtest::run_cli({"eval", model, "--text", text, "--device", "vulkan", "--json"});
        QCOMPARE(r.exit_code, 0);
        auto doc = nlohmann::json::parse(r.out);
        const std::string device = doc["device"].get<std::string>();
        QVERIFY2(device.rfind("Vulkan: ", 0) == 0, device.c_str());
        QVERIFY2(r.err.find("weight products on " + device) != std::string::npos, r.err.c_str());
        QVERIFY2(relative(doc["ppl"].get<double>(), 5.3856) < 1e-3, r.out.c_str());
        r = qbtest::run_cli({"eval", model, "--text", text, "--chunks", "2", "--device", "cpu"});
        QCOMPARE(r.exit_code, 0);
        QVERIFY2(r.out.find("device     CPU\n") != std::string::npos, r.out.c_str());
    }
};

QTEST_GUILESS_MAIN(GpuForwardTest)
#include "tst_gpu_forward.moc"
