#include <QtTest>

#include <cmath>
#include <random>

#include "core/quant/error_metrics.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/util/half.h"

using namespace qb;

namespace {

using Bytes = std::vector<uint8_t>;

std::vector<float> gaussian(int64_t count, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = normal(rng);
    return v;
}

// Student-t with 3 degrees of freedom: a heavy-tailed weight distribution.
std::vector<float> heavy_tailed(int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::chi_squared_distribution<float> chi2(3.0f);
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = normal(rng) / std::sqrt(chi2(rng) / 3.0f);
    return v;
}

Bytes encode(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols,
             const float* importance = nullptr) {
    return encode_tensor(format_by_name(name), x, rows, cols, importance);
}

std::vector<float> round_trip(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols) {
    const FormatInfo& f = format_by_name(name);
    return decode_tensor(f, encode_tensor(f, x, rows, cols), rows, cols);
}

double mse(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols) {
    return measure_format_error(format_by_name(name), x.data(), rows, cols).mse;
}

// The f16 scale that applies to value (row, col), read from the documented layout.
float stored_scale(const FormatInfo& f, const Bytes& bytes, int64_t cols, int64_t row, int64_t col) {
    if (f.grid.group == kPerTensor) return fp16_to_fp32(uint16_t(bytes[0] | bytes[1] << 8));
    size_t offset = f.header_bytes + size_t(row) * f.row_bytes(cols);
    if (f.grid.group > 0) offset += size_t(col / f.grid.group) * f.block_bytes;
    return fp16_to_fp32(uint16_t(bytes[offset] | bytes[offset + 1] << 8));
}

}  // namespace

class GridFormatsTest : public QObject {
    Q_OBJECT
private slots:
    void encodes_int4_sym_group_layout() {
        // absmax 7 -> scale 7 / 7 = 1 (f16 0x3c00); code = round_even(x) + 8, packed LSB-first.
        std::vector<float> x(32, 0.0f);
        const float head[] = {0, 1, -1, 7, -7, 2.4f, 2.6f, -3.5f, 3.5f};
        std::copy(std::begin(head), std::end(head), x.begin());
        const Bytes bytes = encode("int4_g32_sym", x, 1, 32);
        Bytes expected = {0x00, 0x3c, 0x98, 0xf7, 0xa1, 0x4b, 0x8c};
        expected.resize(18, 0x88);
        QCOMPARE(bytes, expected);
        const auto y = round_trip("int4_g32_sym", x, 1, 32);
        QCOMPARE(y[5], 2.0f);
        QCOMPARE(y[6], 3.0f);
        QCOMPARE(y[7], -4.0f);  // -3.5 rounds to even
        QCOMPARE(y[8], 4.0f);
    }

    void encodes_int4_asym_group_layout_with_zero_point() {
        // range [-5, 10] -> scale 15 / 15 = 1, zero point 5; code = round_even(x) + 5.
        const std::vector<float> x = {-5, 10, 0, 2.5f, 3.5f, -0.5f, 1, 7};
        const Bytes bytes = encode("int4_g8_asym", x, 1, 8);
        QCOMPARE(bytes, (Bytes{0x00, 0x3c, 0x05, 0xf0, 0x75, 0x59, 0xc6}));
        QCOMPARE(round_trip("int4_g8_asym", x, 1, 8), (std::vector<float>{-5, 10, 0, 2, 4, 0, 1, 7}));
    }

    void packs_3_bit_codes_across_byte_boundaries() {
        // absmax 3 -> scale 1; codes x + 4 = 1..7, 4 occupy bits 3i..3i+2 of a 24-bit stream.
        const std::vector<float> x = {-3, -2, -1, 0, 1, 2, 3, 0};
        QCOMPARE(encode("int3_g8_sym", x, 1, 8), (Bytes{0x00, 0x3c, 0xd1, 0x58, 0x9f}));
        QCOMPARE(round_trip("int3_g8_sym", x, 1, 8), x);
    }

    void writes_per_tensor_scale_in_the_header() {
        // int8 pt sym: one f16 scale for the tensor (absmax 254 -> scale 2), then one code byte per value.
        const std::vector<float> x = {2, -4, 0, 254, -254, 1, 3, 100};
        const FormatInfo& f = format_by_name("int8_pt_sym");
        QCOMPARE(f.header_bytes, size_t(2));
        QCOMPARE(f.tensor_bytes(2, 4), size_t(10));
        const Bytes bytes = encode("int8_pt_sym", x, 2, 4);
        // code = round_even(x / 2) + 128: 1 -> 0.5 -> 0, 3 -> 1.5 -> 2
        QCOMPARE(bytes, (Bytes{0x00, 0x40, 129, 126, 128, 255, 1, 128, 130, 178}));
        QCOMPARE(round_trip("int8_pt_sym", x, 2, 4), (std::vector<float>{2, -4, 0, 254, -254, 0, 4, 100}));
    }

    void per_tensor_scale_comes_from_the_whole_tensor() {
        // Row 1 alone has absmax 1, but the tensor's absmax 7 sets the scale for every row.
        const std::vector<float> x = {7, -7, 1, -1};
        QCOMPARE(encode("int4_pt_sym", x, 2, 2), (Bytes{0x00, 0x3c, 0x1f, 0x79}));
    }

    void reports_exact_row_bytes_and_bits_per_weight() {
        const FormatInfo& g128 = format_by_name("int4_g128_asym");
        QCOMPARE(g128.block_values, int64_t(128));
        QCOMPARE(g128.block_bytes, size_t(2 + 1 + 64));
        QCOMPARE(g128.bits_per_weight(4096, 11008), 4.1875);
        QCOMPARE(format_by_name("int3_g32_sym").bits_per_weight(8, 64), 3.5);  // (2 + 12) * 8 / 32
        const FormatInfo& pc = format_by_name("int8_pc_sym");
        QCOMPARE(pc.block_values, int64_t(0));
        QCOMPARE(pc.row_bytes(4096), size_t(4098));
        QCOMPARE(pc.bits_per_weight(10, 4096), 8.0 * 4098 / 4096);
        const FormatInfo& pt = format_by_name("int3_pt_asym");
        QCOMPARE(pt.row_bytes(10), size_t(4));                    // 30 bits
        QCOMPARE(pt.tensor_bytes(4, 10), size_t(3 + 4 * 4));      // header: f16 scale + u8 zero
        QCOMPARE(pt.bits_per_weight(4, 10), 8.0 * 19 / 40);
        QCOMPARE(format_by_name("int5_g5_sym").block_bytes, size_t(2 + 4));  // 25 bits round up to 4 bytes
    }

    void values_on_the_grid_survive_the_round_trip_exactly() {
        const int64_t rows = 4, cols = 64, unit = 16;
        std::mt19937 rng(7);
        for (int bits = 2; bits <= 8; ++bits) {
            const int qmax = (1 << (bits - 1)) - 1, max_code = (1 << bits) - 1, zero = (max_code + 1) / 3;
            std::vector<float> sym(size_t(rows * cols)), asym(sym.size());
            for (int64_t i = 0; i < rows * cols; ++i) {
                // every unit of 16 holds both grid extremes, so scale and zero point come out exact
                const int k = i % unit == 0 ? qmax : i % unit == 1 ? -qmax : int(rng() % (2 * qmax + 1)) - qmax;
                const int code = i % unit == 0 ? 0 : i % unit == 1 ? max_code : int(rng() % (max_code + 1));
                sym[size_t(i)] = 0.25f * float(k);
                asym[size_t(i)] = 0.5f * float(code - zero);
            }
            for (const char* granularity : {"g16", "pc", "pt"}) {
                const std::string prefix = "int" + std::to_string(bits) + "_" + granularity;
                QCOMPARE(round_trip(prefix + "_sym", sym, rows, cols), sym);
                QCOMPARE(round_trip(prefix + "_asym", asym, rows, cols), asym);
            }
        }
    }

    void round_to_nearest_error_is_at_most_half_a_step() {
        const int64_t rows = 16, cols = 256;
        auto x = gaussian(rows * cols, 11);
        x[17] = 9.0f;  // an outlier in one group
        std::vector<std::string> names;
        for (const FormatInfo* f : registered_formats())
            if (f->kind == FormatKind::IntGrid && !f->grid.clip_search) names.push_back(f->name);
        for (const char* extra : {"int5_g64_asym", "int6_pc_sym", "int7_pt_asym", "int2_g8_sym"}) names.push_back(extra);
        for (const std::string& name : names) {
            const FormatInfo& f = format_by_name(name);
            const Bytes bytes = encode_tensor(f, x, rows, cols);
            const auto y = decode_tensor(f, bytes, rows, cols);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) {
                    const float step = stored_scale(f, bytes, cols, r, c);
                    const float error = std::fabs(x[size_t(r * cols + c)] - y[size_t(r * cols + c)]);
                    if (error > 0.5f * step * (1 + 1e-5f))
                        QFAIL(qPrintable(QString("%1: |error| %2 > step/2 (step %3) at %4,%5")
                                             .arg(name.c_str()).arg(error).arg(step).arg(r).arg(c)));
                }
        }
    }

    void zero_is_exact_and_an_all_zero_group_decodes_to_zeros() {
        std::vector<float> x(64, 0.0f);
        x[40] = 3.0f;
        x[41] = 0.0f;
        for (const char* name : {"int4_g32_sym", "int4_g32_asym", "int3_pc_asym", "int2_pt_asym"}) {
            const auto y = round_trip(name, x, 1, 64);
            for (int i = 0; i < 32; ++i) QCOMPARE(y[size_t(i)], 0.0f);
            QCOMPARE(y[41], 0.0f);
        }
    }

    void clip_search_is_never_worse_than_the_full_range() {
        const int64_t rows = 32, cols = 256;
        for (const auto& x : {gaussian(rows * cols, 3), heavy_tailed(rows * cols, 4)})
            for (const char* base : {"int2_g32_asym", "int3_g32_sym", "int3_g128_asym", "int4_g128_sym", "int4_pc_asym",
                                     "int8_pc_sym", "int4_pt_sym"}) {
                const std::string name = base;
                QVERIFY2(mse(name + "_clip", x, rows, cols) <= mse(name, x, rows, cols), base);
            }
    }

    void clip_search_is_strictly_better_on_heavy_tails() {
        const int64_t rows = 32, cols = 256;
        const auto x = heavy_tailed(rows * cols, 5);
        for (const char* base : {"int3_pc_sym", "int4_pc_asym", "int4_g128_sym", "int3_pt_asym"}) {
            const std::string name = base;
            const double full = mse(name, x, rows, cols), clipped = mse(name + "_clip", x, rows, cols);
            QVERIFY2(clipped < 0.9 * full, qPrintable(QString("%1: %2 vs %3").arg(base).arg(clipped).arg(full)));
        }
    }

    void importance_steers_the_clip_search() {
        // Column 0 holds an outlier; when it matters most, clipping it away must be avoided.
        const int64_t rows = 8, cols = 64;
        auto x = gaussian(rows * cols, 9, 0.5f);
        for (int64_t r = 0; r < rows; ++r) x[size_t(r * cols)] = 4.0f;
        std::vector<float> importance(cols, 1.0f);
        importance[0] = 1000.0f;
        const FormatInfo& f = format_by_name("int3_pc_sym_clip");
        const auto weighted_error = [&](const float* guide) {
            const auto y = decode_tensor(f, encode_tensor(f, x, rows, cols, guide), rows, cols);
            ErrorAccumulator acc(cols, importance.data());
            acc.add_rows(x.data(), y.data(), rows);
            return acc.metrics().mse;
        };
        QVERIFY(weighted_error(importance.data()) < 0.5 * weighted_error(nullptr));
        // Without clip search the importance vector changes nothing.
        const FormatInfo& rtn = format_by_name("int3_pc_sym");
        QCOMPARE(encode_tensor(rtn, x, rows, cols, importance.data()), encode_tensor(rtn, x, rows, cols));
    }

    void parses_grid_names() {
        const FormatInfo& a = format_by_name("int4_g128_asym");
        QCOMPARE(a.kind, FormatKind::IntGrid);
        QCOMPARE(a.grid.bits, 4);
        QCOMPARE(a.grid.group, int64_t(128));
        QVERIFY(a.grid.asymmetric && !a.grid.clip_search);
        QVERIFY(!a.gguf_storable());
        const FormatInfo& b = format_by_name("INT3_G64_SYM_CLIP");
        QCOMPARE(b.name, std::string("int3_g64_sym_clip"));
        QVERIFY(!b.grid.asymmetric && b.grid.clip_search);
        QCOMPARE(&format_by_name("int3_g64_sym_clip"), &b);  // parsed once, then found
        QCOMPARE(format_by_name("int8_pc_sym").grid.group, kPerChannel);
        QCOMPARE(format_by_name("int2_pt_asym").grid.group, kPerTensor);
        QCOMPARE(format_by_name("int7_g1000_asym").block_values, int64_t(1000));
        QCOMPARE(format_by_name("int6_g96_sym").description, std::string("6-bit symmetric integer grid, f16 scale per 96 values"));
    }

    void rejects_invalid_grid_names_with_the_syntax_in_the_message() {
        for (const char* name : {"int9_g32_sym", "int4_g0_sym", "int1_pc_sym", "int4_g128", "int4_g032_sym", "int4_gx_sym",
                                 "int4_pc_sym_clipped", "int4_pc_sym_clip_clip", "int4_g-32_sym", "int4_pc_symmetric"}) {
            QVERIFY2(find_format(name) == nullptr, name);
            try {
                format_by_name(name);
                QFAIL(name);
            } catch (const Error& e) {
                const QString message = e.what();
                QVERIFY2(message.contains(QString("unknown format '%1'").arg(name)), qPrintable(message));
                QVERIFY2(message.contains("int<2-8>_<gN|pc|pt>_<sym|asym>[_clip]"), qPrintable(message));
            }
        }
    }

    void rejects_a_group_that_does_not_divide_the_row() {
        const FormatInfo& f = format_by_name("int4_g48_sym");
        QCOMPARE(f.shape_problem(64), std::string("row length 64 is not a multiple of int4_g48_sym's block of 48"));
        QCOMPARE(f.shape_problem(96), std::string());
        const std::vector<float> x(64, 1.0f);
        try {
            encode_tensor(f, x, 1, 64);
            QFAIL("encoded a 64-wide row with groups of 48");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("format int4_g48_sym: row length 64 is not a multiple of int4_g48_sym's block of 48"));
        }
        QCOMPARE(format_by_name("int4_pc_sym").shape_problem(172), std::string());  // per-row scales fit any row
    }

    void registers_a_modest_fixed_set_of_grid_presets() {
        int presets = 0;
        for (const FormatInfo* f : registered_formats()) {
            if (f->kind != FormatKind::IntGrid) continue;
            ++presets;
            QVERIFY(f->can_encode());
            QCOMPARE(f->ggml_type, -1);
            QCOMPARE(find_format(f->name), f);
        }
        QVERIFY(presets >= 12 && presets <= 24);
        QVERIFY(find_format("int4_g128_asym") && find_format("int8_pc_sym") && find_format("int2_g32_asym"));
    }

    void encoding_does_not_depend_on_the_thread_count() {
        const int64_t rows = 64, cols = 128;
        const auto x = heavy_tailed(rows * cols, 21);
        for (const char* name : {"int4_g32_asym_clip", "int3_pt_sym_clip", "int8_pc_asym"}) {
            const FormatInfo& f = format_by_name(name);
            QCOMPARE(encode_tensor(f, x, rows, cols, nullptr, 1), encode_tensor(f, x, rows, cols, nullptr, 0));
        }
    }
};

QTEST_GUILESS_MAIN(GridFormatsTest)
#include "tst_grid_formats.moc"
