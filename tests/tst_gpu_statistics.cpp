// The Vulkan statistics kernel against the CPU backend (double-precision moments, the analysis
// module's exact histograms), also as the weight analysis's backend and through `quantbench-cli stats
// --device`, on the default Vulkan device with the validation layer on.
#include <QtTest>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/analysis/weight_stats.h"
#include "core/backend/backend.h"
#include "core/quant/format.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

// Gaussian weights around `offset` with a few outlier columns, and NaN / Inf sprinkled in.
std::vector<float> weights(int64_t rows, int64_t cols, float offset, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(offset, 1.0f);
    std::vector<float> x(size_t(rows * cols));
    for (float& v : x) v = gauss(rng);
    for (int64_t r = 0; r < rows; ++r) {
        x[size_t(r * cols + (r * 7) % cols)] *= 40.0f;
        if (r % 13 == 5) x[size_t(r * cols + r % cols)] = std::numeric_limits<float>::quiet_NaN();
        if (r % 17 == 3) x[size_t(r * cols + (r * 3) % cols)] = -std::numeric_limits<float>::infinity();
    }
    return x;
}

bool close(double got, double want, double tolerance) { return std::fabs(got - want) <= tolerance; }

}  // namespace

class GpuStatisticsTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;
    std::unique_ptr<Backend> cpu_ = make_cpu_backend();

    void check_parity(const std::vector<float>& x, int64_t rows, int64_t cols, const StatsRequest& request,
                      gpu::VulkanBackend& gpu) {
        QVERIFY(gpu.accelerates_statistics(cols));
        const TensorStats got = gpu.statistics(x.data(), rows, cols, request, nullptr);
        const TensorStats want = cpu_->statistics(x.data(), rows, cols, request, nullptr);
        const Moments& g = got.moments;
        const Moments& w = want.moments;
        QCOMPARE(g.count, w.count);
        QCOMPARE(got.nan_count, want.nan_count);
        QCOMPARE(got.inf_count, want.inf_count);
        QCOMPARE(g.min, w.min);
        QCOMPARE(g.max, w.max);
        QVERIFY2(close(g.mean, w.mean, kStatsMeanTolerance * w.std), qPrintable(QString::number(g.mean - w.mean)));
        QVERIFY2(close(g.variance, w.variance, kStatsRelativeTolerance * w.variance), qPrintable(QString::number(g.variance / w.variance - 1)));
        QVERIFY(close(g.skewness, w.skewness, kStatsRelativeTolerance * (1 + std::fabs(w.skewness))));
        QVERIFY2(close(g.excess_kurtosis, w.excess_kurtosis, kStatsRelativeTolerance * (1 + std::fabs(w.excess_kurtosis))),
                 qPrintable(QString::number(g.excess_kurtosis - w.excess_kurtosis)));
        QCOMPARE(got.row_absmax, want.row_absmax);
        QCOMPARE(got.col_absmax, want.col_absmax);
        QCOMPARE(got.histogram.edges, want.histogram.edges);
        QCOMPARE(got.histogram.counts, want.histogram.counts);
        QCOMPARE(got.histogram.underflow, want.histogram.underflow);
        QCOMPARE(got.histogram.overflow, want.histogram.overflow);
    }

private slots:
    void initTestCase() { QB_VERIFY_EMPTY(qbtest::open_validated_device(device_)); }
    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void matches_the_cpu_with_a_linear_histogram_and_channel_absmax() {
        gpu::VulkanBackend gpu(device_);
        const int64_t rows = 300, cols = 1000;  // rows and columns that fill no tile or segment evenly
        StatsRequest request{.bins = 256, .lo = -3.0, .hi = 3.5, .row_absmax = true, .col_absmax = true};
        check_parity(weights(rows, cols, 0.25f, 1), rows, cols, request, gpu);
    }

    void matches_the_cpu_with_many_log_bins_in_global_memory() {
        gpu::VulkanBackend gpu(device_);
        const int64_t rows = 37, cols = 3000;  // 2000 bins: more than the kernel's shared sub-histogram
        StatsRequest request{.bins = 2000, .scale = HistogramScale::LogAbs, .lo = 1e-4, .hi = 30.0, .col_absmax = true};
        check_parity(weights(rows, cols, 0.0f, 2), rows, cols, request, gpu);
    }

    // llvmpipe (lavapipe) silently ends every loop of an invocation after 65,535 iterations in all: rows
    // longer than real models' (28,672 for Llama-3-70B's ffn_down, 128,256 for a vocabulary row of
    // embeddings stored transposed) must still count every value in both histogram paths.
    void matches_the_cpu_over_rows_longer_than_the_loop_budget() {
        gpu::VulkanBackend gpu(device_);
        for (const int64_t cols : {28672 + 1000, 128256}) {
            const int64_t rows = 9;  // a full tile and one row
            const std::vector<float> x = weights(rows, cols, 0.1f, 5);
            check_parity(x, rows, cols, {.bins = 256, .lo = -3.0, .hi = 3.0, .row_absmax = true, .col_absmax = true}, gpu);
            check_parity(x, rows, cols, {.bins = 2000, .scale = HistogramScale::LogAbs, .lo = 1e-4, .hi = 30.0, .row_absmax = true}, gpu);
        }
    }

    void keeps_moments_exact_when_the_mean_dwarfs_the_spread() {
        gpu::VulkanBackend gpu(device_);
        check_parity(weights(64, 256, 1000.0f, 3), 64, 256, {.row_absmax = true}, gpu);
    }

    void gives_the_same_numbers_in_small_chunks() {
        gpu::VulkanBackend small_chunks(device_, {.chunk_bytes = 16 * 1024});
        const int64_t rows = 500, cols = 100;  // 40 rows per chunk: 13 chunks, tiles cut by chunk ends
        StatsRequest request{.bins = 64, .lo = -4.0, .hi = 4.0, .row_absmax = true, .col_absmax = true};
        check_parity(weights(rows, cols, -0.5f, 4), rows, cols, request, small_chunks);
        QCOMPARE(small_chunks.last_timing().chunks, uint64_t(13));
    }

    void counts_a_tensor_of_only_non_finite_values() {
        gpu::VulkanBackend gpu(device_);
        std::vector<float> x(8 * 64, std::numeric_limits<float>::infinity());
        x[3] = std::numeric_limits<float>::quiet_NaN();
        const TensorStats got = gpu.statistics(x.data(), 8, 64, {.row_absmax = true, .col_absmax = true}, nullptr);
        QCOMPARE(got.moments.count, int64_t(0));
        QCOMPARE(got.nan_count, int64_t(1));
        QCOMPARE(got.inf_count, int64_t(8 * 64 - 1));
        QCOMPARE(got.row_absmax, std::vector<float>(8, 0.0f));
        QCOMPARE(got.col_absmax, std::vector<float>(64, 0.0f));
    }

    void analyzes_weights_on_the_gpu_within_the_stated_tolerances() {
        const int64_t rows = 90, cols = 700;
        const std::vector<float> x = weights(rows, cols, 0.5f, 21);
        auto bytes = std::make_shared<std::vector<uint8_t>>(encode_tensor(format_by_name("f16"), x, rows, cols));
        TensorView view;
        view.name = "w";
        view.shape = {rows, cols};
        view.format = &format_by_name("f16");
        view.data = *bytes;
        view.keep_alive = bytes;
        gpu::VulkanBackend gpu(device_);
        WeightStatsOptions options;
        options.format_errors = false;
        const WeightStats want = analyze_weights(view, options, nullptr, 2);
        options.backend = &gpu;
        options.block_rows = 7;  // 13 blocks through the backend
        const WeightStats got = analyze_weights(view, options, nullptr, 2);
        QCOMPARE(got.moments.count, want.moments.count);
        QCOMPARE(got.nan_count, want.nan_count);
        QCOMPARE(got.inf_count, want.inf_count);
        QCOMPARE(got.moments.min, want.moments.min);
        QCOMPARE(got.moments.max, want.moments.max);
        QVERIFY(close(got.moments.mean, want.moments.mean, kStatsMeanTolerance * want.moments.std));
        QVERIFY(close(got.moments.variance, want.moments.variance, kStatsRelativeTolerance * want.moments.variance));
        QVERIFY(close(got.moments.excess_kurtosis, want.moments.excess_kurtosis,
                      kStatsRelativeTolerance * (1 + std::fabs(want.moments.excess_kurtosis))));
        QCOMPARE(got.channels.rows, want.channels.rows);
        QCOMPARE(got.channels.cols, want.channels.cols);
        QCOMPARE(got.heat_map.cells, want.heat_map.cells);
        QCOMPARE(got.histograms[0].counts, want.histograms[0].counts);  // same edges unless min/max differ
    }

    void cli_stats_runs_on_the_requested_device_and_says_so() {
        const std::map<std::string, std::string> no_layers{{"VK_INSTANCE_LAYERS", ""}};
        const std::string model = qbtest::stories260k("gguf").string();
        const auto cpu = qbtest::run_cli({"stats", model, "--tensor", "^blk\\.0\\.ffn_up", "--format", "none", "--json"}, no_layers);
        const auto vulkan = qbtest::run_cli(
            {"stats", model, "--tensor", "^blk\\.0\\.ffn_up", "--format", "none", "--json", "--device", "vulkan"}, no_layers);
        QCOMPARE(cpu.exit_code, 0);
        QCOMPARE(vulkan.exit_code, 0);
        QVERIFY2(vulkan.err.find("statistics on Vulkan: ") != std::string::npos, vulkan.err.c_str());
        QVERIFY(cpu.err.find("Vulkan") == std::string::npos);
        const auto got = nlohmann::json::parse(vulkan.out)["tensors"][0]["moments"];
        const auto want = nlohmann::json::parse(cpu.out)["tensors"][0]["moments"];
        QCOMPARE(got["count"], want["count"]);
        QCOMPARE(got["max"], want["max"]);
        QVERIFY(close(got["std"].get<double>(), want["std"].get<double>(), 1e-5 * want["std"].get<double>()));
    }

    void rejects_an_empty_histogram_range() {
        gpu::VulkanBackend gpu(device_);
        const std::vector<float> x(64, 1.0f);
        QVERIFY_THROWS_EXCEPTION(std::exception, gpu.statistics(x.data(), 1, 64, {.bins = 10, .lo = 1.0, .hi = 1.0}, nullptr));
    }
};

QTEST_GUILESS_MAIN(GpuStatisticsTest)
#include "tst_gpu_statistics.moc"
