#include <QtTest>

#include <cmath>
#include <random>

#include "core/quant/error_metrics.h"
#include "core/util/error.h"

using namespace qb;

namespace {

ErrorMetrics compare(const std::vector<float>& x, const std::vector<float>& y, int64_t cols,
                     const float* importance = nullptr) {
    ErrorAccumulator acc(cols, importance);
    acc.add_rows(x.data(), y.data(), int64_t(x.size()) / cols);
    return acc.metrics();
}

std::vector<float> gaussian(int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = normal(rng);
    return v;
}

void compare_metrics(const ErrorMetrics& a, const ErrorMetrics& b) {
    QCOMPARE(a.count, b.count);
    QCOMPARE(a.mse, b.mse);
    QCOMPARE(a.max_abs_error, b.max_abs_error);
    QCOMPARE(a.sqnr_db, b.sqnr_db);
    QCOMPARE(a.cosine, b.cosine);
}

}  // namespace

class ErrorMetricsTest : public QObject {
    Q_OBJECT
private slots:
    void measures_a_known_noise() {
        // signal power 1, noise ±0.1 -> MSE 0.01, SQNR 20 dB
        const std::vector<float> x = {1, -1, 1, -1, 1, -1};
        const std::vector<float> y = {1.1f, -0.9f, 0.9f, -1.1f, 1.1f, -0.9f};
        const ErrorMetrics m = compare(x, y, 3);
        QCOMPARE(m.count, int64_t(6));
        QVERIFY(std::fabs(m.mse - 0.01) < 1e-8);
        QVERIFY(std::fabs(m.rmse - 0.1) < 1e-7);
        QVERIFY(std::fabs(m.max_abs_error - 0.1) < 1e-6);
        QVERIFY(std::fabs(m.sqnr_db - 20.0) < 1e-5);
        // cosine = Σxy / sqrt(Σx² Σy²) = 6 / sqrt(6 * 6.06)
        QVERIFY(std::fabs(m.cosine - 6.0 / std::sqrt(6.0 * 6.06)) < 1e-6);
        QCOMPARE(m.bits_per_weight, 0.0);
    }

    void orthogonal_vectors_have_zero_cosine() {
        const ErrorMetrics m = compare({3, 0, 0, 4}, {0, 5, 0, 0}, 4);
        QCOMPARE(m.cosine, 0.0);
        QCOMPARE(m.mse, (9.0 + 25.0 + 16.0) / 4.0);
        QCOMPARE(m.max_abs_error, 5.0);
        QVERIFY(std::fabs(m.sqnr_db - 10.0 * std::log10(25.0 / 50.0)) < 1e-12);  // -3.0103 dB
        QCOMPARE(compare({1, 2}, {-1, -2}, 2).cosine, -1.0);
    }

    void exact_copy_has_infinite_sqnr_and_unit_cosine() {
        const std::vector<float> x = {0.5f, -2, 7, 1e-3f};
        const ErrorMetrics m = compare(x, x, 2);
        QCOMPARE(m.mse, 0.0);
        QCOMPARE(m.max_abs_error, 0.0);
        QVERIFY(std::isinf(m.sqnr_db) && m.sqnr_db > 0);
        QCOMPARE(m.cosine, 1.0);
        const ErrorMetrics zeros = compare({0, 0}, {0, 0}, 2);
        QVERIFY(std::isinf(zeros.sqnr_db) && zeros.sqnr_db > 0);
        QCOMPARE(zeros.cosine, 1.0);
        QCOMPARE(compare({1, 2}, {0, 0}, 2).cosine, 0.0);  // everything rounded to zero
    }

    void weights_every_sum_by_column_importance() {
        // rows {1, 1} and {2, 2}; errors only in column 0; importance 3 for column 0, 1 for column 1
        const std::vector<float> x = {1, 1, 2, 2}, y = {0, 1, 1, 2};
        const std::vector<float> importance = {3, 1};
        const ErrorMetrics weighted = compare(x, y, 2, importance.data());
        QCOMPARE(weighted.mse, (3.0 * 1 + 3.0 * 1) / 8.0);                           // Σw e² / Σw
        QCOMPARE(weighted.sqnr_db, 10.0 * std::log10((3.0 * 5 + 1.0 * 5) / 6.0));    // Σw x² / Σw e²
        QCOMPARE(weighted.cosine, (3.0 * 2 + 1.0 * 5) / std::sqrt(20.0 * (3.0 * 1 + 1.0 * 5)));
        QCOMPARE(weighted.max_abs_error, 1.0);  // never weighted
        QCOMPARE(compare(x, y, 2).mse, 0.5);
    }

    void streaming_row_blocks_gives_the_same_result_as_one_pass() {
        const int64_t rows = 100, cols = 37;
        const auto x = gaussian(rows * cols, 1), y = gaussian(rows * cols, 2);
        std::vector<float> importance(cols);
        for (int64_t j = 0; j < cols; ++j) importance[size_t(j)] = float(1 + j % 5);
        ErrorAccumulator streamed(cols, importance.data());
        for (int64_t begin = 0; begin < rows; begin += 7)
            streamed.add_rows(x.data() + begin * cols, y.data() + begin * cols, std::min<int64_t>(7, rows - begin));
        compare_metrics(streamed.metrics(), compare(x, y, cols, importance.data()));
        QCOMPARE(streamed.metrics().count, rows * cols);
    }

    void measures_a_format_like_encoding_and_decoding_the_whole_tensor() {
        const int64_t rows = 300, cols = 64;
        const auto x = gaussian(rows * cols, 3);
        const FormatInfo& f = format_by_name("int4_g32_asym");
        const auto y = decode_tensor(f, encode_tensor(f, x, rows, cols), rows, cols);
        const ErrorMetrics m = measure_format_error(f, x.data(), rows, cols);
        compare_metrics(m, compare(x, y, cols));
        QCOMPARE(m.bits_per_weight, 4.75);  // (2 + 1 + 16) bytes per 32 values
        compare_metrics(measure_format_error(f, x.data(), rows, cols, nullptr, 0), m);
        QVERIFY(m.sqnr_db > 18 && m.sqnr_db < 24);  // ~6 dB per bit for a gaussian
    }

    void per_tensor_scale_spans_all_row_blocks() {
        // More values than one internal row block (2^20), so the shared header must come from the whole tensor.
        const int64_t rows = 2100, cols = 1000;
        auto x = gaussian(rows * cols, 4);
        x.back() = 50.0f;  // the tensor's absmax lies in the last row block
        const FormatInfo& f = format_by_name("int8_pt_sym");
        const auto y = decode_tensor(f, encode_tensor(f, x, rows, cols), rows, cols);
        const ErrorMetrics m = measure_format_error(f, x.data(), rows, cols, nullptr, 0);
        compare_metrics(m, compare(x, y, cols));
        QCOMPARE(m.bits_per_weight, 8.0 * (2 + double(rows) * cols) / (double(rows) * cols));
    }

    void importance_reaches_the_codec_and_the_metrics() {
        const int64_t rows = 16, cols = 64;
        auto x = gaussian(rows * cols, 5);
        std::vector<float> importance(cols, 1.0f);
        importance[3] = 50.0f;
        const FormatInfo& f = format_by_name("int3_pc_sym_clip");
        const auto y = decode_tensor(f, encode_tensor(f, x, rows, cols, importance.data()), rows, cols);
        compare_metrics(measure_format_error(f, x.data(), rows, cols, importance.data()),
                        compare(x, y, cols, importance.data()));
    }

    void rejects_formats_that_cannot_encode_the_tensor() {
        const std::vector<float> x(64, 1.0f);
        try {
            measure_format_error(format_by_name("int4_g48_sym"), x.data(), 1, 64);
            QFAIL("measured a shape the format cannot store");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("format int4_g48_sym: row length 64 is not a multiple of int4_g48_sym's block of 48"));
        }
        QVERIFY_THROWS_EXCEPTION(Error, measure_format_error(format_by_name("i8"), x.data(), 1, 64));
        QVERIFY_THROWS_EXCEPTION(Error, ErrorAccumulator(0));
    }
};

QTEST_GUILESS_MAIN(ErrorMetricsTest)
#include "tst_error_metrics.moc"
