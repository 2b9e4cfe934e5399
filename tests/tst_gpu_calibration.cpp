// Calibration and evaluation on the Vulkan device (issues 4 and 5): calibration's Hessian sums through
// Backend::hessian_sums (gpu/hessian_kernel.h, xtx.comp) and the forward passes' weight products through a
// GpuLinearExecutor, against the CPU, on stories260K under the validation layer (every test also fails on
// any validation message).
//   - Hessian sums alone (the same activations): the device sums each 512-token block in f32 in another
//     order than the CPU, so every element is within kBlockBound x sqrt(H_ii H_jj) of the CPU's (backend.h's
//     HessianSums); the CPU backend's sums are the bytes of no backend at all.
//   - The whole calibration on the device (forward products too): the activations themselves then differ by
//     f32 rounding carried through the layers: within kDeviceCalibrationTolerance x sqrt(H_ii H_jj).
//   - A GPTQ q4_0 quantize job on the device: the Hessians a rounding apart can flip an occasional code
//     (each flip then moves the rest of its row through GPTQ's error feedback), so the file's bytes may
//     differ: its dequantized weights within kWeightTolerance of the CPU's (relative to the CPU's
//     quantization error), its perplexity within kPplTolerance, and the run says where each stage ran.
//   - An automatic plan (Hessian loss) calibrated on the device: the same formats as the CPU's, ppl within
//     kPplTolerance (7.6 bpw: 48 tensors in 5 formats, the same ppl on lavapipe), and the run says its
//     calibration and Hessians ran there.
// Measured on lavapipe (2048 tokens): Hessian sums within 1.0e-6 x sqrt(H_ii H_jj) (bound 6.1e-5), the same
// with the forward products on the device (mean x² within 5.7e-7 relative), GPTQ's dequantized weights and
// perplexity identical to the CPU's. The tolerances leave room for devices that round otherwise.
#include <QtTest>

#include <cmath>
#include <map>

#include "core/algo/algorithm.h"
#include "core/backend/backend.h"
#include "core/infer/forward.h"
#include "core/model/model.h"
#include "core/pipeline/auto_plan.h"
#include "core/pipeline/quantize_job.h"
#include "core/plan/presets.h"
#include "core/store/text_file.h"
#include "gpu/gpu_linear.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/support/test_data.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

// Two f32 sums of at most 512 terms, each within 512 x 2^-24 x Σ|x_i x_j| <= 512 x 2^-24 x tokens x
// sqrt(H_ii H_jj) of the exact one (Cauchy-Schwarz), plus f64 rounding.
constexpr double kBlockBound = 2.0 * 512 * 0x1p-24 * 1.001;
constexpr double kDeviceCalibrationTolerance = 1e-4;
constexpr double kWeightTolerance = 0.05;
constexpr double kPplTolerance = 0.005;

using qbtest::stories260k_model;

const TextFile& snippet() {
    static const TextFile text = read_text_file(qbtest::data_path("text/tinystories-snippet-30k.txt"));
    return text;
}

CalibrationOptions calibration_options() {
    CalibrationOptions options;
    options.tokens = 2048;  // four chunks of 512: every Hessian add() is one full block
    options.ctx = 512;
    return options;
}

// A short quantize job on the snippet (calibration and 4 evaluation chunks) writing to output, on the CPU.
QuantizeJobOptions short_job(const std::filesystem::path& output) {
    QuantizeJobOptions options;
    options.output = output;
    options.calibration_text = snippet();
    options.calibration = calibration_options();
    options.evaluation_text = snippet();
    options.evaluation.ctx = 512;
    options.evaluation.max_chunks = 4;
    options.threads = 2;
    return options;
}

Calibration calibrated(const CalibrationOptions& options) {
    const Transformer net(stories260k_model(), 2);
    return calibrate(net, evaluation_text(model_tokenizer(stories260k_model()), snippet().text), options, nullptr, 2);
}

// max over i, j of |got_ij - want_ij| / sqrt(want_ii want_jj).
double scaled_difference(const HessianMatrix& got, const HessianMatrix& want) {
    double worst = 0;
    for (int64_t i = 0; i < want.dim; ++i)
        for (int64_t j = 0; j < want.dim; ++j) {
            const double scale = std::sqrt(want.at(i, i) * want.at(j, j));
            const double diff = std::fabs(got.at(i, j) - want.at(i, j));
            worst = std::max(worst, scale > 0 ? diff / scale : diff > 0 ? INFINITY : 0.0);
        }
    return worst;
}

// "" when every record's Hessian is within tolerance x sqrt(H_ii H_jj) of the CPU's; logs the largest gap.
std::string hessian_problem(const Calibration& got, const Calibration& want, double tolerance, const char* what) {
    if (got.records.size() != want.records.size()) return "different records";
    double worst = 0;
    std::string worst_record;
    for (size_t r = 0; r < want.records.size(); ++r) {
        if (!got.records[r].hessian || !want.records[r].hessian) return want.records[r].record + ": no Hessian";
        const double d = scaled_difference(*got.records[r].hessian, *want.records[r].hessian);
        if (d >= worst) {
            worst = d;
            worst_record = want.records[r].record;
        }
    }
    qInfo("%s: Hessians of %zu records, largest |H - H_cpu| / sqrt(H_ii H_jj) %.3g (%s), tolerance %.3g", what,
          want.records.size(), worst, worst_record.c_str(), tolerance);
    return worst <= tolerance ? "" : worst_record + ": " + std::to_string(worst);
}

}  // namespace

class GpuCalibrationTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;
    std::unique_ptr<gpu::VulkanBackend> backend_;
    std::unique_ptr<gpu::GpuLinearExecutor> executor_;

private slots:
    void initTestCase() {
        QB_VERIFY_EMPTY(qbtest::open_validated_device(device_));
        backend_ = std::make_unique<gpu::VulkanBackend>(device_);
        executor_ = gpu::linear_executor_for(*backend_);
        QVERIFY(executor_);
        if (!backend_->accelerates_hessian(stories260k_model().hparams.n_embd)) QSKIP("the device has no shaderFloat64");
    }
    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void hessian_sums_on_the_device_are_within_the_f32_block_bound() {
        const Calibration cpu = calibrated(calibration_options());

        CalibrationOptions on_cpu_backend = calibration_options();
        const std::unique_ptr<Backend> cpu_backend = make_cpu_backend(2);
        on_cpu_backend.backend = cpu_backend.get();
        const Calibration same = calibrated(on_cpu_backend);
        QCOMPARE(same.records.size(), cpu.records.size());
        for (size_t r = 0; r < cpu.records.size(); ++r) QVERIFY(same.records[r].hessian->values == cpu.records[r].hessian->values);

        CalibrationOptions on_device = calibration_options();
        on_device.backend = backend_.get();
        const std::string problem = hessian_problem(calibrated(on_device), cpu, kBlockBound, "Hessian sums on the device");
        QVERIFY2(problem.empty(), problem.c_str());
    }

    void calibration_on_the_device_agrees_with_the_cpu() {
        const Calibration cpu = calibrated(calibration_options());
        CalibrationOptions on_device = calibration_options();
        on_device.backend = backend_.get();
        on_device.executor = executor_.get();
        executor_->release();
        const Calibration device = calibrated(on_device);
        QVERIFY(executor_->resident_bytes() > 0);  // the forward products ran on the device
        const std::string problem = hessian_problem(device, cpu, kDeviceCalibrationTolerance, "calibration on the device");
        QVERIFY2(problem.empty(), problem.c_str());
        double worst = 0;
        int64_t identical = 0;
        for (size_t r = 0; r < cpu.records.size(); ++r) {
            identical += device.records[r].hessian->values == cpu.records[r].hessian->values;
            for (size_t c = 0; c < cpu.records[r].mean_sq.size(); ++c)
                worst = std::max(worst, std::fabs(device.records[r].mean_sq[c] - cpu.records[r].mean_sq[c]) / cpu.records[r].mean_sq[c]);
        }
        qInfo("%lld of %zu Hessians bit-identical to the CPU's; mean x² within %.3g relative", (long long)identical,
              cpu.records.size(), worst);
        QVERIFY(worst <= kDeviceCalibrationTolerance);
    }

    void gptq_job_on_the_device_evaluates_like_the_cpu_and_says_where_it_ran() {
        QuantPlan plan = preset_plan("q4_0", stories260k_model());
        plan.defaults.algorithm = "gptq";
        const ResolvedPlan resolved = resolve_plan(plan, stories260k_model(), PlanTarget::Gguf);
        const std::filesystem::path dir = qbtest::scratch_dir() / "gptq_devices";
        std::filesystem::create_directories(dir);
        const RunResult cpu = run_quantize_job(stories260k_model(), plan, resolved, short_job(dir / "cpu.gguf"));
        QuantizeJobOptions on_device = short_job(dir / "vulkan.gguf");
        on_device.backend = backend_.get();
        on_device.executor = executor_.get();
        const RunResult device = run_quantize_job(stories260k_model(), plan, resolved, on_device);
        qInfo("cpu: calibration %.2f s, evaluation %.2f s; device: calibration %.2f s, evaluation %.2f s",
              cpu.seconds.calibration, cpu.seconds.evaluation, device.seconds.calibration, device.seconds.evaluation);

        QCOMPARE(cpu.devices.calibration, std::string("CPU"));
        QCOMPARE(cpu.devices.hessians, std::string("CPU"));
        QCOMPARE(cpu.devices.evaluation, std::string("CPU"));
        const std::string vulkan = backend_->description();
        QCOMPARE(device.devices.calibration, executor_->description());
        QCOMPARE(device.devices.hessians, vulkan);
        QCOMPARE(device.devices.quantization, vulkan);
        QCOMPARE(device.devices.evaluation, executor_->description());
        QVERIFY2(vulkan.rfind("Vulkan: ", 0) == 0, vulkan.c_str());
        QVERIFY(run_result_to_json(device).at("devices").at("hessians") == vulkan);

        // The base model's perplexity runs the same weights: forward rounding only (tst_gpu_forward's 1e-4).
        QVERIFY(std::fabs(device.evaluation.base_ppl - cpu.evaluation.base_ppl) <= 1e-4 * cpu.evaluation.base_ppl);
        qInfo("GPTQ q4_0 perplexity %.6f (cpu) vs %.6f (device), base %.6f vs %.6f", cpu.evaluation.ppl,
              device.evaluation.ppl, cpu.evaluation.base_ppl, device.evaluation.base_ppl);
        QVERIFY(std::fabs(device.evaluation.ppl - cpu.evaluation.ppl) <= kPplTolerance * cpu.evaluation.ppl);

        const Model cpu_file = load_model(dir / "cpu.gguf"), device_file = load_model(dir / "vulkan.gguf");
        int64_t gptq_tensors = 0, differing = 0, values = 0;
        for (const TensorRun& t : cpu.tensors) {
            if (t.algorithm != "gptq") continue;
            ++gptq_tensors;
            const std::vector<float> source = stories260k_model().tensor(t.name).to_f32(2);
            const std::vector<float> want = cpu_file.tensor(t.name).to_f32(2), got = device_file.tensor(t.name).to_f32(2);
            double gap = 0, error = 0;
            for (size_t i = 0; i < want.size(); ++i) {
                gap += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
                error += (double(want[i]) - source[i]) * (double(want[i]) - source[i]);
                differing += got[i] != want[i];
            }
            values += int64_t(want.size());
            const double relative = std::sqrt(gap / error);
            if (relative > kWeightTolerance) qInfo("%s: |W_device - W_cpu| / |W_cpu - W| = %.3g", t.name.c_str(), relative);
            QVERIFY2(relative <= kWeightTolerance, t.name.c_str());
        }
        qInfo("%lld GPTQ tensors: %lld of %lld dequantized weights differ", (long long)gptq_tensors, (long long)differing,
              (long long)values);
        QVERIFY(gptq_tensors > 0);
    }

    // An automatic plan (quantize --target-bpw) calibrates for its Hessian losses on the job's devices: the
    // losses a rounding apart choose the same formats as the CPU's here, and the job then evaluates like it.
    void automatic_plan_on_the_device_chooses_the_cpus_formats() {
        AutoPlanOptions automatic;
        automatic.target_bpw = 7.6;  // as tst_allocation: rows of 64 and 172 rule out the K-quants
        automatic.loss = "hessian";
        const std::filesystem::path dir = qbtest::scratch_dir() / "auto_devices";
        std::filesystem::create_directories(dir);
        const Model& model = stories260k_model();
        const auto run_on = [&](Backend* backend, LinearExecutor* executor, const std::string& name, AutoPlan& chosen) {
            QuantizeJobOptions options = short_job(dir / name);
            options.backend = backend;
            options.executor = executor;
            const std::string& text = snippet().text;
            chosen = auto_plan_streaming(model, text, job_calibration_options(options), text, automatic, nullptr, 2);
            RunResult run = run_quantize_job(model, chosen.plan, resolve_plan(chosen.plan, model, PlanTarget::Gguf), options);
            run.devices.add_missing(chosen.devices);
            return run;
        };
        AutoPlan cpu_plan, device_plan;
        const RunResult cpu = run_on(nullptr, nullptr, "cpu.gguf", cpu_plan);
        const RunResult device = run_on(backend_.get(), executor_.get(), "vulkan.gguf", device_plan);

        QCOMPARE(cpu_plan.devices.calibration, std::string("CPU"));
        QCOMPARE(cpu_plan.devices.hessians, std::string("CPU"));
        QCOMPARE(device.devices.calibration, executor_->description());
        QCOMPARE(device.devices.hessians, backend_->description());
        QCOMPARE(device.devices.evaluation, executor_->description());

        QCOMPARE(device.tensors.size(), cpu.tensors.size());
        std::map<std::string, int> formats;
        for (size_t i = 0; i < cpu.tensors.size(); ++i) {
            QCOMPARE(device.tensors[i].name, cpu.tensors[i].name);
            QVERIFY2(device.tensors[i].format == cpu.tensors[i].format, cpu.tensors[i].name.c_str());
            ++formats[cpu.tensors[i].format];
        }
        QCOMPARE(device_plan.allocation.choice, cpu_plan.allocation.choice);
        QVERIFY(formats.size() > 2);  // a real choice: more than the embeddings' q8_0 and one format
        qInfo("automatic plan at %.1f bpw: %zu tensors in %zu formats; perplexity %.6f (cpu) vs %.6f (device)",
              automatic.target_bpw, cpu.tensors.size(), formats.size(), cpu.evaluation.ppl, device.evaluation.ppl);
        QVERIFY(std::fabs(device.evaluation.ppl - cpu.evaluation.ppl) <= kPplTolerance * cpu.evaluation.ppl);
    }
};

QTEST_GUILESS_MAIN(GpuCalibrationTest)
#include "tst_gpu_calibration.moc"
