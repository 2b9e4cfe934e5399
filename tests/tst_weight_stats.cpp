// Weight statistics against independent straightforward computations (two-pass, double, plain loops) on
// random, hand-made and real (stories260K) tensors.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "core/analysis/weight_stats.h"
#include "core/io/gguf_reader.h"
#include "core/util/half.h"
#include "tests/support/test_data.h"

using namespace qb;

#define QVERIFY_NEAR(got, want, tolerance)                                                                     \
    QVERIFY2(std::abs(double(got) - double(want)) <= double(tolerance),                                        \
             qPrintable(QString("%1 = %2, expected %3 within %4")                                              \
                            .arg(#got)                                                                         \
                            .arg(double(got), 0, 'g', 17)                                                      \
                            .arg(double(want), 0, 'g', 17)                                                     \
                            .arg(double(tolerance))))

namespace {

// A view over its own bytes: the values encoded in `format` (f32 keeps them bit for bit).
TensorView make_view(std::span<const float> values, int64_t rows, int64_t cols, std::string_view format = "f32") {
    const FormatInfo& f = format_by_name(format);
    auto bytes = std::make_shared<std::vector<uint8_t>>(encode_tensor(f, values, rows, cols));
    TensorView view;
    view.name = "test";
    view.shape = {rows, cols};
    view.format = &f;
    view.data = *bytes;
    view.keep_alive = bytes;
    return view;
}

TensorView gguf_view(const GgufFile& file, const std::string& name) {
    const GgufTensorInfo& t = file.tensor(name);
    TensorView view;
    view.name = name;
    view.shape = {t.rows(), t.cols()};
    view.format = t.format;
    view.data = t.data;
    view.keep_alive = file.mapping();
    return view;
}

std::vector<float> gaussian(size_t n, double mean, double std, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> dist(mean, std);
    std::vector<float> v(n);
    for (float& x : v) x = float(dist(rng));
    return v;
}

// Student-t with 3 degrees of freedom: heavy tails like real weights, with a positive excess kurtosis.
std::vector<float> heavy_tailed(size_t n, double scale, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::student_t_distribution<double> dist(3.0);
    std::vector<float> v(n);
    for (float& x : v) x = float(scale * dist(rng));
    return v;
}

WeightStatsOptions without_errors() {
    WeightStatsOptions o;
    o.format_errors = false;
    return o;
}

struct ReferenceMoments {
    int64_t count = 0;
    double min = 0, max = 0, mean = 0, variance = 0, skewness = 0, excess_kurtosis = 0;
};

ReferenceMoments reference_moments(std::span<const float> values) {
    ReferenceMoments r;
    double sum = 0;
    r.min = std::numeric_limits<double>::infinity();
    r.max = -r.min;
    for (float v : values) {
        if (!std::isfinite(v)) continue;
        ++r.count;
        sum += v;
        r.min = std::min(r.min, double(v));
        r.max = std::max(r.max, double(v));
    }
    r.mean = sum / double(r.count);
    double m2 = 0, m3 = 0, m4 = 0;
    for (float v : values) {
        if (!std::isfinite(v)) continue;
        const double d = v - r.mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    const double n = double(r.count);
    r.variance = m2 / n;
    r.skewness = std::sqrt(n) * m3 / std::pow(m2, 1.5);
    r.excess_kurtosis = n * m4 / (m2 * m2) - 3.0;
    return r;
}

void verify_moments(const Moments& got, const ReferenceMoments& want, double relative) {
    const double sigma = std::sqrt(want.variance);
    QCOMPARE(got.count, want.count);
    QCOMPARE(got.min, want.min);
    QCOMPARE(got.max, want.max);
    QVERIFY_NEAR(got.mean, want.mean, relative * (std::abs(want.mean) + sigma));
    QVERIFY_NEAR(got.variance, want.variance, relative * want.variance);
    QVERIFY_NEAR(got.std, sigma, relative * sigma);
    QVERIFY_NEAR(got.skewness, want.skewness, relative * (1 + std::abs(want.skewness)));
    QVERIFY_NEAR(got.excess_kurtosis, want.excess_kurtosis, relative * (3 + std::abs(want.excess_kurtosis)));
}

// Brute-force histogram with the same edges: binary search per value.
std::vector<uint64_t> brute_force_counts(std::span<const float> values, const Histogram& h, uint64_t& under,
                                         uint64_t& over) {
    std::vector<uint64_t> counts(h.counts.size(), 0);
    under = over = 0;
    for (float x : values) {
        if (!std::isfinite(x)) continue;
        const double v = h.scale == HistogramScale::LogAbs ? std::abs(double(x)) : double(x);
        if (v < h.edges.front()) {
            ++under;
        } else if (v > h.edges.back()) {
            ++over;
        } else {
            const auto above = std::upper_bound(h.edges.begin(), h.edges.end(), v);
            const size_t bin = std::min(size_t(above - h.edges.begin()) - 1, counts.size() - 1);
            ++counts[bin];
        }
    }
    return counts;
}

void verify_histogram(std::span<const float> values, const Histogram& h) {
    uint64_t under = 0, over = 0;
    const std::vector<uint64_t> want = brute_force_counts(values, h, under, over);
    QCOMPARE(h.counts.size() + 1, h.edges.size());
    QVERIFY(std::is_sorted(h.edges.begin(), h.edges.end()));
    QCOMPARE(h.underflow, under);
    QCOMPARE(h.overflow, over);
    for (size_t i = 0; i < want.size(); ++i) QVERIFY2(h.counts[i] == want[i], qPrintable(QString("bin %1").arg(i)));
}

void verify_stats_identical(const WeightStats& a, const WeightStats& b) {
    QCOMPARE(a.moments.count, b.moments.count);
    QCOMPARE(a.moments.mean, b.moments.mean);
    QCOMPARE(a.moments.variance, b.moments.variance);
    QCOMPARE(a.moments.skewness, b.moments.skewness);
    QCOMPARE(a.moments.excess_kurtosis, b.moments.excess_kurtosis);
    QCOMPARE(a.moments.min, b.moments.min);
    QCOMPARE(a.moments.max, b.moments.max);
    for (size_t k = 0; k < a.tails.size(); ++k) QCOMPARE(a.tails[k].count, b.tails[k].count);
    for (size_t h = 0; h < a.histograms.size(); ++h) {
        QCOMPARE(a.histograms[h].edges, b.histograms[h].edges);
        QCOMPARE(a.histograms[h].counts, b.histograms[h].counts);
    }
    QCOMPARE(a.channels.rows, b.channels.rows);
    QCOMPARE(a.channels.cols, b.channels.cols);
    QCOMPARE(a.heat_map.cells, b.heat_map.cells);
}

}  // namespace

class WeightStatsTest : public QObject {
    Q_OBJECT
private slots:
    void moments_match_two_pass_reference_on_random_tensor() {
        const int64_t rows = 301, cols = 517;  // uneven: rows split unevenly over threads, cols not a multiple of 8
        const std::vector<float> values = heavy_tailed(size_t(rows * cols), 0.02, 1);
        const WeightStats s = analyze_weights(make_view(values, rows, cols), without_errors(), nullptr, 3);
        const ReferenceMoments want = reference_moments(values);
        verify_moments(s.moments, want, 1e-12);
        QVERIFY(s.moments.excess_kurtosis > 1.0);  // heavy tails are visible
        QCOMPARE(s.nan_count, int64_t(0));
        QCOMPARE(s.inf_count, int64_t(0));
    }

    void moments_stay_accurate_when_mean_dwarfs_spread() {
        // mean 1e4, σ 1e-2: a one-pass Σx² formula loses every digit of the variance here.
        const std::vector<float> values = gaussian(200 * 300, 1e4, 1e-2, 2);
        const WeightStats s = analyze_weights(make_view(values, 200, 300), without_errors(), nullptr, 2);
        verify_moments(s.moments, reference_moments(values), 1e-9);
    }

    void hand_made_tensor_gives_textbook_moments() {
        const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7, 8};
        const WeightStats s = analyze_weights(make_view(values, 2, 4), without_errors(), nullptr, 2);
        QCOMPARE(s.moments.count, int64_t(8));
        QCOMPARE(s.moments.mean, 4.5);
        QCOMPARE(s.moments.variance, 5.25);
        QVERIFY_NEAR(s.moments.skewness, 0.0, 1e-15);
        QVERIFY_NEAR(s.moments.excess_kurtosis, 8 * 388.5 / (42.0 * 42.0) - 3, 1e-14);  // Σd⁴ = 388.5, Σd² = 42
        QCOMPARE(s.moments.abs_max(), 8.0);
        QCOMPARE(s.tails[0].count, uint64_t(2));  // 3σ = 6.87: 7 and 8
        QCOMPARE(s.tails[1].count, uint64_t(0));  // 6σ = 13.7
    }

    void nan_and_inf_are_counted_and_left_out() {
        const int64_t rows = 40, cols = 33;
        std::vector<float> values = gaussian(size_t(rows * cols), 0, 1, 3);
        const float inf = std::numeric_limits<float>::infinity();
        values[5] = std::numeric_limits<float>::quiet_NaN();
        values[6] = inf;
        values[size_t(17 * cols + 2)] = -inf;
        values[size_t(39 * cols + 32)] = std::numeric_limits<float>::quiet_NaN();
        WeightStatsOptions options = without_errors();
        options.histograms.push_back({HistogramScale::LogAbs, 64, std::nullopt, false});
        const WeightStats s = analyze_weights(make_view(values, rows, cols), options, nullptr, 2);
        QCOMPARE(s.nan_count, int64_t(2));
        QCOMPARE(s.inf_count, int64_t(2));
        verify_moments(s.moments, reference_moments(values), 1e-12);
        for (const Histogram& h : s.histograms) {
            QCOMPARE(h.total(), uint64_t(rows * cols - 4));
            verify_histogram(values, h);
        }
        float finite_row0_absmax = 0;
        for (int64_t c = 0; c < cols; ++c)
            if (std::isfinite(values[size_t(c)])) finite_row0_absmax = std::max(finite_row0_absmax, std::abs(values[size_t(c)]));
        QCOMPARE(s.channels.rows[0], finite_row0_absmax);  // non-finite values count as 0
        QVERIFY(std::isfinite(s.heat_map.at(0, 0)));
    }

    void tail_fractions_match_brute_force() {
        const int64_t rows = 128, cols = 250;
        std::vector<float> values = heavy_tailed(size_t(rows * cols), 1.0, 4);
        WeightStatsOptions options = without_errors();
        options.sigma_multiples = {1.5, 3, 6, 0};
        const WeightStats s = analyze_weights(make_view(values, rows, cols), options, nullptr, 2);
        const double sigma = std::sqrt(reference_moments(values).variance);
        QCOMPARE(s.tails.size(), size_t(4));
        for (const TailFraction& t : s.tails) {
            uint64_t want = 0;
            for (float x : values) want += std::abs(double(x)) > t.k * sigma;
            QCOMPARE(t.count, want);
            QCOMPARE(t.fraction, double(want) / double(values.size()));
            QVERIFY_NEAR(t.threshold, t.k * sigma, 1e-12 * sigma * t.k);
        }
        QVERIFY(s.tails[1].fraction > 0.0027);  // heavier than a normal's 0.27 % beyond 3σ
        QCOMPARE(s.tails[3].count, uint64_t(values.size()));  // k = 0: every non-zero value
    }

    void histogram_counts_sum_to_numel_and_match_brute_force() {
        const int64_t rows = 97, cols = 211;
        const std::vector<float> values = heavy_tailed(size_t(rows * cols), 0.05, 5);
        WeightStatsOptions options = without_errors();
        options.histograms = {{HistogramScale::Linear, 100, std::nullopt, true}};
        const WeightStats s = analyze_weights(make_view(values, rows, cols), options, nullptr, 2);
        const Histogram& h = s.histograms[0];
        QCOMPARE(h.counts.size(), size_t(100));
        QCOMPARE(h.total(), uint64_t(rows * cols));
        QCOMPARE(h.underflow + h.overflow, uint64_t(0));  // default range is [min, max]
        QCOMPARE(h.edges.front(), s.moments.min);
        QCOMPARE(h.edges.back(), s.moments.max);
        const double width = (s.moments.max - s.moments.min) / 100;
        for (size_t i = 0; i < h.edges.size(); ++i) QVERIFY_NEAR(h.edges[i], s.moments.min + double(i) * width, 1e-12 * width);
        QVERIFY(h.counts.front() >= 1 && h.counts.back() >= 1);  // min and max land in the end bins
        QVERIFY(h.log_counts);
        verify_histogram(values, h);
    }

    void histogram_with_user_range_counts_underflow_and_overflow() {
        // values on edges, at both ends and outside: bins are [e_i, e_i+1), the last one closed
        const std::vector<float> values = {-1.5f, -1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 0.999f, 1.0f, 1.0001f, 7.0f};
        WeightStatsOptions options = without_errors();
        options.histograms = {{HistogramScale::Linear, 4, ValueRange{-1.0, 1.0}, false}};
        const WeightStats s = analyze_weights(make_view(values, 2, 5), options, nullptr, 1);
        const Histogram& h = s.histograms[0];
        QCOMPARE(h.edges, (std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0}));
        QCOMPARE(h.underflow, uint64_t(1));
        QCOMPARE(h.overflow, uint64_t(2));
        QCOMPARE(h.counts, (std::vector<uint64_t>{1, 1, 2, 3}));
        verify_histogram(values, h);
    }

    void histogram_membership_is_exact_at_every_edge() {
        // Every float nearest to an edge and its neighbours, for edges that are not floats and for a range whose
        // edge 0.640625 is a float that float arithmetic puts at bin coordinate 0.99999994 (just below bin 1).
        for (const HistogramSpec& spec : {HistogramSpec{HistogramScale::Linear, 37, ValueRange{-0.37, 1.91}, false},
                                          HistogramSpec{HistogramScale::Linear, 3, ValueRange{0.0, 1.921875}, false},
                                          HistogramSpec{HistogramScale::LogAbs, 53, ValueRange{3e-4, 7.5}, false}}) {
            const ValueRange range = *spec.range;
            std::vector<float> values;
            for (int i = 0; i <= spec.bins; ++i) {
                const double f = double(i) / spec.bins;
                const double edge = spec.scale == HistogramScale::Linear ? range.lo + (range.hi - range.lo) * f
                                                                         : range.lo * std::pow(range.hi / range.lo, f);
                const float nearest = float(edge);
                for (float v : {std::nextafter(nearest, -1e30f), nearest, std::nextafter(nearest, 1e30f)}) {
                    values.push_back(v);
                    values.push_back(-v);
                }
            }
            WeightStatsOptions options = without_errors();
            options.histograms = {spec};
            const int64_t cols = 6;
            const WeightStats s = analyze_weights(make_view(values, int64_t(values.size()) / cols, cols), options, nullptr, 1);
            QCOMPARE(s.histograms[0].total(), uint64_t(values.size()));
            verify_histogram(values, s.histograms[0]);
        }
    }

    void log_abs_histogram_matches_brute_force() {
        const int64_t rows = 64, cols = 300;
        std::vector<float> values = heavy_tailed(size_t(rows * cols), 0.01, 6);
        for (size_t i = 0; i < values.size(); i += 97) values[i] = 0;  // zeros are underflow on a log scale
        values[1234] = 1e-30f;
        WeightStatsOptions options = without_errors();
        options.histograms = {{HistogramScale::LogAbs, 80, std::nullopt, false},
                              {HistogramScale::LogAbs, 37, ValueRange{1e-3, 0.05}, false}};
        const WeightStats s = analyze_weights(make_view(values, rows, cols), options, nullptr, 2);
        const Histogram& auto_range = s.histograms[0];
        QCOMPARE(auto_range.edges.back(), s.moments.abs_max());
        QVERIFY_NEAR(auto_range.edges.front(), s.moments.abs_max() * 1e-6, 1e-20);
        QVERIFY_NEAR(auto_range.edges[40] / auto_range.edges[39], std::pow(1e6, 1.0 / 80), 1e-12);  // log-spaced
        QVERIFY(auto_range.underflow >= uint64_t(values.size() / 97 + 1));
        for (const Histogram& h : s.histograms) {
            QCOMPARE(h.total(), uint64_t(values.size()));
            verify_histogram(values, h);
        }
    }

    void injected_spike_is_top_outlier_channel_in_both_directions() {
        const int64_t rows = 200, cols = 300;
        std::vector<float> values = gaussian(size_t(rows * cols), 0, 0.02, 7);
        values[size_t(137 * cols + 211)] = -50.0f;
        values[size_t(12 * cols + 5)] = 9.0f;  // a smaller second outlier
        WeightStatsOptions options = without_errors();
        options.top_k_channels = 3;
        const WeightStats s = analyze_weights(make_view(values, rows, cols), options, nullptr, 4);
        QCOMPARE(s.channels.top_rows.size(), size_t(3));
        QCOMPARE(s.channels.top_rows[0].index, int64_t(137));
        QCOMPARE(s.channels.top_rows[0].absmax, 50.0f);
        QCOMPARE(s.channels.top_rows[1].index, int64_t(12));
        QCOMPARE(s.channels.top_cols[0].index, int64_t(211));
        QCOMPARE(s.channels.top_cols[0].absmax, 50.0f);
        QCOMPARE(s.channels.top_cols[1].index, int64_t(5));
        for (int64_t r = 0; r < rows; ++r) {
            float want = 0;
            for (int64_t c = 0; c < cols; ++c) want = std::max(want, std::abs(values[size_t(r * cols + c)]));
            QCOMPARE(s.channels.rows[size_t(r)], want);
        }
        for (int64_t c = 0; c < cols; ++c) {
            float want = 0;
            for (int64_t r = 0; r < rows; ++r) want = std::max(want, std::abs(values[size_t(r * cols + c)]));
            QCOMPARE(s.channels.cols[size_t(c)], want);
        }
    }

    void heat_map_cells_equal_brute_force_over_blocks() {
        const int64_t rows = 103, cols = 77;
        const std::vector<float> values = heavy_tailed(size_t(rows * cols), 1.0, 8);
        struct Case {
            int64_t max_rows, max_cols;
            HeatMapReduce reduce;
        };
        // uneven divisions both ways; more cells than rows; one cell
        for (Case c : {Case{10, 8, HeatMapReduce::Max}, Case{10, 8, HeatMapReduce::Mean}, Case{500, 30, HeatMapReduce::Mean},
                       Case{1, 1, HeatMapReduce::Max}}) {
            WeightStatsOptions options = without_errors();
            options.heat_map = {c.max_rows, c.max_cols, c.reduce};
            const HeatMap map = analyze_weights(make_view(values, rows, cols), options, nullptr, 3).heat_map;
            const int64_t cell_rows = std::min(rows, c.max_rows), cell_cols = std::min(cols, c.max_cols);
            QCOMPARE(map.cell_rows(), cell_rows);
            QCOMPARE(map.cell_cols(), cell_cols);
            for (int64_t i = 0; i < cell_rows; ++i)
                for (int64_t j = 0; j < cell_cols; ++j) {
                    const int64_t r0 = i * rows / cell_rows, r1 = (i + 1) * rows / cell_rows;
                    const int64_t c0 = j * cols / cell_cols, c1 = (j + 1) * cols / cell_cols;
                    QCOMPARE(map.row_edges[size_t(i)], r0);
                    QCOMPARE(map.col_edges[size_t(j)], c0);
                    double max = 0, sum = 0;
                    for (int64_t r = r0; r < r1; ++r)
                        for (int64_t col = c0; col < c1; ++col) {
                            const double a = std::abs(values[size_t(r * cols + col)]);
                            max = std::max(max, a);
                            sum += a;
                        }
                    if (c.reduce == HeatMapReduce::Max)
                        QCOMPARE(double(map.at(i, j)), max);
                    else
                        QVERIFY_NEAR(map.at(i, j), sum / double((r1 - r0) * (c1 - c0)), 1e-6 * sum / double((r1 - r0) * (c1 - c0)));
                }
        }
    }

    void cancellation_throws_cancelled() {
        const std::vector<float> values = gaussian(64 * 1000, 0, 1, 9);
        const TensorView view = make_view(values, 64, 1000);
        WeightStatsOptions options = without_errors();
        options.block_rows = 4;
        int reports = 0;
        double last_fraction = 0;
        JobControl control([&](double fraction, std::string_view) {
            ++reports;
            last_fraction = fraction;
        });
        const WeightStats complete = analyze_weights(view, options, &control, 2);
        QCOMPARE(complete.moments.count, int64_t(64 * 1000));
        QCOMPARE(reports, 2 * 64 / 4);  // one report per block per pass
        QCOMPARE(last_fraction, 1.0);
        int reports_before_cancel = 0;
        JobControl cancelling([&](double fraction, std::string_view) {
            ++reports_before_cancel;
            if (fraction > 0.25) cancelling.cancel();
        });
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyze_weights(view, options, &cancelling, 2));
        QVERIFY(reports_before_cancel < reports);
        JobControl already_cancelled;
        already_cancelled.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyze_weights(view, options, &already_cancelled, 1));
        QVERIFY_THROWS_EXCEPTION(Cancelled, measure_format_errors(view, default_error_formats(1000), &already_cancelled, 1));
    }

    void tiny_row_blocks_give_the_same_numbers_as_one_block() {
        const int64_t rows = 150, cols = 123;
        const std::vector<float> values = heavy_tailed(size_t(rows * cols), 0.1, 10);
        const TensorView view = make_view(values, rows, cols);
        WeightStatsOptions one_block = without_errors(), tiny_blocks = without_errors();
        one_block.block_rows = rows;
        tiny_blocks.block_rows = 1;
        one_block.histograms = tiny_blocks.histograms = {{}, {HistogramScale::LogAbs, 50, std::nullopt, false}};
        // Same thread count: identical to the last bit (tolerance 0).
        verify_stats_identical(analyze_weights(view, one_block, nullptr, 3), analyze_weights(view, tiny_blocks, nullptr, 3));
        // Another thread count merges in another order: moments agree to 1e-13 relative, the rest exactly.
        const WeightStats serial = analyze_weights(view, tiny_blocks, nullptr, 1);
        const WeightStats parallel = analyze_weights(view, one_block, nullptr, 4);
        verify_moments(parallel.moments,
                       {serial.moments.count, serial.moments.min, serial.moments.max, serial.moments.mean,
                        serial.moments.variance, serial.moments.skewness, serial.moments.excess_kurtosis},
                       1e-13);
        QCOMPARE(parallel.histograms[1].counts, serial.histograms[1].counts);
        QCOMPARE(parallel.channels.cols, serial.channels.cols);
        QCOMPARE(parallel.heat_map.cells, serial.heat_map.cells);
    }

    void stories260k_tensor_matches_reference() {
        GgufFile file(qbtest::stories260k("gguf"));
        const GgufTensorInfo& info = file.tensor("blk.0.ffn_down.weight");
        const std::span<const float> values(reinterpret_cast<const float*>(info.data.data()), size_t(info.numel()));
        const TensorView view = gguf_view(file, "blk.0.ffn_down.weight");
        WeightStatsOptions options;
        options.error_formats = {"f16", "bf16", "q8_0"};
        const WeightStats s = analyze_weights(view, options, nullptr, 2);
        QCOMPARE(s.rows, int64_t(64));
        QCOMPARE(s.cols, int64_t(172));
        QCOMPARE(s.storage_format, std::string("f32"));
        verify_moments(s.moments, reference_moments(values), 1e-12);
        verify_histogram(values, s.histograms[0]);
        QCOMPARE(s.histograms[0].total(), uint64_t(64 * 172));

        int64_t top_row = 0;
        float top_absmax = 0;
        for (int64_t r = 0; r < 64; ++r)
            for (int64_t c = 0; c < 172; ++c)
                if (std::abs(values[size_t(r * 172 + c)]) > top_absmax) {
                    top_absmax = std::abs(values[size_t(r * 172 + c)]);
                    top_row = r;
                }
        QCOMPARE(s.channels.top_rows[0].index, top_row);
        QCOMPARE(s.channels.top_rows[0].absmax, top_absmax);

        // f16 round trip measured by hand
        double noise = 0, signal = 0, decoded_power = 0, dot = 0, max_error = 0;
        for (float x : values) {
            const double y = fp16_to_fp32(fp32_to_fp16(x)), e = double(x) - y;
            noise += e * e;
            signal += double(x) * x;
            decoded_power += y * y;
            dot += x * y;
            max_error = std::max(max_error, std::abs(e));
        }
        QCOMPARE(s.format_errors.size(), size_t(3));
        const FormatError& f16 = s.format_errors[0];
        QCOMPARE(f16.format, std::string("f16"));
        QVERIFY(f16.problem.empty());
        QVERIFY_NEAR(f16.metrics.mse, noise / double(values.size()), 1e-12 * noise / double(values.size()));
        QVERIFY_NEAR(f16.metrics.sqnr_db, 10 * std::log10(signal / noise), 1e-9);
        QCOMPARE(f16.metrics.max_abs_error, max_error);
        QVERIFY_NEAR(f16.metrics.cosine, dot / std::sqrt(signal * decoded_power), 1e-12);
        QCOMPARE(f16.metrics.bits_per_weight, 16.0);
        QVERIFY(s.format_errors[1].metrics.sqnr_db < f16.metrics.sqnr_db);  // bf16 keeps 8 bits of mantissa, f16 11
        QVERIFY(s.format_errors[2].problem.find("multiple of") != std::string::npos);  // 172 values per row
    }

    void f16_stored_tensor_stats_equal_stats_of_decoded_values() {
        GgufFile file(qbtest::data_path("models/stories260K/gguf/stories260K-f16.gguf"));
        const TensorView stored = gguf_view(file, "blk.2.attn_q.weight");
        QCOMPARE(stored.format->name, std::string("f16"));
        const std::vector<float> decoded = stored.to_f32();  // the test's reference copy, not the code under test
        const TensorView plain = make_view(decoded, stored.rows(), stored.cols());
        WeightStatsOptions options;
        options.error_formats = {"q8_0", "f16"};
        options.histograms.push_back({HistogramScale::LogAbs, 40, std::nullopt, false});
        const WeightStats from_f16 = analyze_weights(stored, options, nullptr, 2);
        const WeightStats from_f32 = analyze_weights(plain, options, nullptr, 2);
        verify_stats_identical(from_f16, from_f32);
        QCOMPARE(from_f16.storage_format, std::string("f16"));
        QCOMPARE(from_f16.format_errors[0].metrics.mse, from_f32.format_errors[0].metrics.mse);
        QCOMPARE(from_f16.format_errors[1].metrics.mse, 0.0);  // already f16: re-encoding is exact
        QVERIFY(std::isinf(from_f16.format_errors[1].metrics.sqnr_db));
    }

    void default_error_formats_fit_the_row_length() {
        const std::vector<const FormatInfo*> for_172 = default_error_formats(172);
        const std::vector<const FormatInfo*> for_256 = default_error_formats(256);
        auto contains = [](const std::vector<const FormatInfo*>& list, const char* name) {
            return std::any_of(list.begin(), list.end(), [&](const FormatInfo* f) { return f->name == name; });
        };
        QVERIFY(contains(for_172, "f16"));
        QVERIFY(!contains(for_172, "q4_0"));
        QVERIFY(!contains(for_172, "i8"));  // decode-only
        QVERIFY(contains(for_256, "q4_0"));
        QVERIFY(contains(for_256, "q4_k"));
        for (const FormatInfo* f : for_172) QVERIFY(f->can_encode() && f->shape_problem(172).empty());
    }

    void format_error_table_matches_whole_tensor_measurement() {
        const int64_t rows = 48, cols = 256;
        const std::vector<float> values = heavy_tailed(size_t(rows * cols), 0.02, 11);
        const TensorView view = make_view(values, rows, cols);
        const std::vector<const FormatInfo*> formats = {&format_by_name("q4_0"), &format_by_name("q8_0"),
                                                        &format_by_name("q4_k")};
        const std::vector<FormatError> table = measure_format_errors(view, formats, nullptr, 3, 5);
        QCOMPARE(table.size(), size_t(3));
        for (size_t i = 0; i < formats.size(); ++i) {
            const ErrorMetrics want = measure_format_error(*formats[i], values.data(), rows, cols);
            QCOMPARE(table[i].format, formats[i]->name);
            QCOMPARE(table[i].metrics.count, int64_t(rows * cols));
            QCOMPARE(table[i].metrics.mse, want.mse);
            QCOMPARE(table[i].metrics.sqnr_db, want.sqnr_db);
            QCOMPARE(table[i].metrics.max_abs_error, want.max_abs_error);
            QCOMPARE(table[i].metrics.cosine, want.cosine);
        }
        QCOMPARE(table[0].metrics.bits_per_weight, 4.5);
        QVERIFY(table[1].metrics.sqnr_db > table[0].metrics.sqnr_db + 20);  // 8 bits vs 4 bits: ~6 dB per bit
    }

    void json_form_carries_the_documented_fields() {
        const std::vector<float> values = gaussian(32 * 64, 0, 1, 12);
        WeightStatsOptions options;
        options.error_formats = {"f32", "q8_0"};
        options.heat_map = {4, 8, HeatMapReduce::Mean};
        const WeightStats s = analyze_weights(make_view(values, 32, 64), options, nullptr, 2);
        const nlohmann::json full = to_json(s);
        QCOMPARE(full["shape"][1].get<int64_t>(), int64_t(64));
        QCOMPARE(full["moments"]["std"].get<double>(), s.moments.std);
        QCOMPARE(full["moments"]["excess_kurtosis"].get<double>(), s.moments.excess_kurtosis);
        QCOMPARE(full["tails"][0]["k"].get<double>(), 3.0);
        QCOMPARE(full["tails"][1]["fraction"].get<double>(), s.tails[1].fraction);
        QCOMPARE(full["histograms"][0]["scale"].get<std::string>(), std::string("linear"));
        QCOMPARE(full["histograms"][0]["counts"].size(), size_t(256));
        QCOMPARE(full["histograms"][0]["edges"].size(), size_t(257));
        QCOMPARE(full["channels"]["row_absmax"].size(), size_t(32));
        QCOMPARE(full["channels"]["top_cols"][0]["index"].get<int64_t>(), s.channels.top_cols[0].index);
        QCOMPARE(full["heat_map"]["cells"].size(), size_t(4));
        QCOMPARE(full["heat_map"]["cells"][3][7].get<float>(), s.heat_map.at(3, 7));
        QCOMPARE(full["heat_map"]["reduce"].get<std::string>(), std::string("mean"));
        QVERIFY(full["format_errors"][0]["sqnr_db"].is_null());  // f32 is exact: infinite SQNR
        QCOMPARE(full["format_errors"][1]["bits_per_weight"].get<double>(), 8.5);
        const nlohmann::json summary = to_json(s, JsonDetail::Summary);
        QVERIFY(!summary["channels"].contains("row_absmax"));
        QVERIFY(!summary["heat_map"].contains("cells"));
        QCOMPARE(summary["heat_map"]["cell_cols"].get<int64_t>(), int64_t(8));
    }

    void rejects_invalid_input_with_clear_errors() {
        const std::vector<float> values = gaussian(16, 0, 1, 13);
        const TensorView view = make_view(values, 4, 4);
        WeightStatsOptions negative_k = without_errors();
        negative_k.sigma_multiples = {-1};
        QVERIFY_THROWS_EXCEPTION(Error, analyze_weights(view, negative_k));
        WeightStatsOptions log_from_zero = without_errors();
        log_from_zero.histograms = {{HistogramScale::LogAbs, 10, ValueRange{0.0, 1.0}, false}};
        int reports = 0;
        JobControl counting([&](double, std::string_view) { ++reports; });
        QVERIFY_THROWS_EXCEPTION(Error, analyze_weights(view, log_from_zero, &counting));
        QCOMPARE(reports, 0);  // options are checked before any pass over the tensor
        WeightStatsOptions no_bins = without_errors();
        no_bins.histograms = {{HistogramScale::Linear, 0, std::nullopt, false}};
        QVERIFY_THROWS_EXCEPTION(Error, analyze_weights(view, no_bins));
        WeightStatsOptions unknown_format;
        unknown_format.error_formats = {"q9_9"};
        QVERIFY_THROWS_EXCEPTION(Error, analyze_weights(view, unknown_format));
        TensorView empty = view;
        empty.shape = {0, 4};
        try {
            analyze_weights(empty);
            QFAIL("an empty tensor was accepted");
        } catch (const Error& e) {
            QCOMPARE(QString::fromStdString(e.what()), QString("test: tensor has no values to analyse"));
        }
    }
};

QTEST_GUILESS_MAIN(WeightStatsTest)
#include "tst_weight_stats.moc"
