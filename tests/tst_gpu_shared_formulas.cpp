// The shared formulas (core/formulas/*.inc through formulas.h), which the CPU codecs and the shaders
// both use, against independent references: the x86 F16C instructions, round trips, bitsandbytes' NF4
// table and the tie rules the lookup tables' constant bounds encode; and the per-value readers of
// encoded blocks against the registry's decoders (the K-quants' are separate CPU code). (No Vulkan here.)
#include <QtTest>

#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <random>
#include <utility>

#include "core/formulas/formulas.h"
#include "core/quant/format.h"

using namespace qb;

namespace {

constexpr uint64_t kPatternStride = 997;  // about 4.3 million f32 bit patterns, every exponent and sign

// Every kPatternStride-th f32 bit pattern, NaNs and infinities included.
std::vector<float> float_patterns() {
    std::vector<float> x;
    for (uint64_t u = 0; u <= 0xffffffffull; u += kPatternStride) {
        const uint32_t bits = uint32_t(u);
        x.push_back(std::bit_cast<float>(bits));
    }
    return x;
}

}  // namespace

class SharedFormulasTest : public QObject {
    Q_OBJECT

    const std::vector<float> patterns_ = float_patterns();

    // The decision bounds of a 4-bit table: between ascending entries k and k + 1 the midpoint, one
    // float lower where the upper entry's code is even, so that a tie goes to the even code.
    template <typename Value>
    void check_bounds(Value value, const uint32_t* ascending, const uint32_t* bound_bits, int distinct) {
        for (int k = 0; k + 1 < distinct; ++k) {
            const float lower = value(ascending[k]), upper = value(ascending[k + 1]);
            QVERIFY(lower < upper);
            const float midpoint = (lower + upper) / 2;
            const float want = ascending[k + 1] % 2 == 0 ? std::nextafter(midpoint, -INFINITY) : midpoint;
            QCOMPARE(bound_bits[k], std::bit_cast<uint32_t>(want));
        }
    }

private slots:
    void converts_f16_like_the_x86_f16c_instructions() {
#ifdef __F16C__
        for (float x : patterns_)
            QCOMPARE(formula::fp32_to_fp16_bits(x), uint32_t(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
        for (uint32_t h = 0; h < 65536; ++h) {
            const float got = formula::fp16_bits_to_fp32(h), want = _cvtsh_ss(uint16_t(h));
            if (std::isnan(want)) QVERIFY(std::isnan(got));  // F16C also quiets signalling NaNs
            else QCOMPARE(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want));
        }
#else
        QSKIP("built without F16C");
#endif
    }

    void encodes_every_finite_fp8_value_back_to_its_code() {
        for (uint32_t code = 0; code < 256; ++code) {
            const float e4m3 = formula::e4m3_to_fp32(code), e5m2 = formula::e5m2_to_fp32(code);
            if (!std::isnan(e4m3)) QCOMPARE(formula::fp32_to_e4m3(e4m3), code);
            if (!std::isnan(e5m2)) QCOMPARE(formula::fp32_to_e5m2(e5m2), code);
        }
        for (float x : patterns_) {  // NaN stays NaN, beyond the range: e4m3 saturates, e5m2 goes to inf
            if (std::isnan(x)) QVERIFY(std::isnan(formula::e4m3_to_fp32(formula::fp32_to_e4m3(x))));
            else if (std::fabs(x) > 448.0f) QCOMPARE(std::fabs(formula::e4m3_to_fp32(formula::fp32_to_e4m3(x))), 448.0f);
            if (std::fabs(x) >= 61440.0f) QVERIFY(std::isinf(formula::e5m2_to_fp32(formula::fp32_to_e5m2(x))));
        }
    }

    void holds_bitsandbytes_nf4_table_and_tie_to_even_bounds() {
        const float bitsandbytes[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                        0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                        0.7229568362236023f, 1.0f};
        uint32_t ascending[16];
        for (uint32_t c = 0; c < 16; ++c) {
            QCOMPARE(formula::nf4_value(c), bitsandbytes[c]);
            ascending[c] = c;
        }
        check_bounds(formula::nf4_value, ascending, formula::nf4_bound_bits, 16);
    }

    void holds_e2m1_values_and_tie_to_even_bounds() {
        const float positive[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
        for (uint32_t c = 0; c < 8; ++c) {
            QCOMPARE(formula::e2m1_value(c), positive[c]);
            QCOMPARE(formula::e2m1_value(c + 8), -positive[c]);
        }
        check_bounds(formula::e2m1_value, formula::e2m1_ascending_codes, formula::e2m1_bound_bits, 15);
        QCOMPARE(formula::e2m1_code(-0.1f), 0u);  // rounds to +0 (the lower code of the two zeros)
        QCOMPARE(formula::e2m1_code(std::nanf("")), 15u);
    }

    // The per-value readers the GPU's decoders and matrix products use give the registry's floats.
    void reads_every_block_format_value_in_place_like_the_registry() {
        using ValueFn = float (*)(const uint8_t* block, int j);
        const std::pair<const char*, ValueFn> readers[] = {
            {"q4_0", formula::q4_0_value},     {"q4_1", formula::q4_1_value},     {"q5_0", formula::q5_0_value},
            {"q5_1", formula::q5_1_value},     {"q8_0", formula::q8_0_value},     {"iq4_nl", formula::iq4_nl_value},
            {"iq4_xs", formula::iq4_xs_value}, {"q2_k", formula::q2_k_value},     {"q3_k", formula::q3_k_value},
            {"q4_k", formula::q4_k_value},     {"q5_k", formula::q5_k_value},     {"q6_k", formula::q6_k_value},
            {"nf4", formula::nf4_block_value}, {"fp4", formula::fp4_block_value}, {"mxfp4", formula::mxfp4_block_value},
            {"mxint8", formula::mxint8_block_value}};
        const int64_t rows = 12, cols = 512;
        std::vector<float> x(size_t(rows * cols));
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.37f) * std::pow(10.0f, float(i / cols % 6) - 3.0f);
        for (const auto& [name, value] : readers) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<uint8_t> bytes = encode_tensor(f, x, rows, cols);
            const std::vector<float> want = decode_tensor(f, bytes, rows, cols);
            for (size_t i = 0; i < want.size(); ++i) {
                const uint8_t* block = bytes.data() + i / size_t(f.block_values) * f.block_bytes;
                const float got = value(block, int(i % size_t(f.block_values)));
                if (std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want[i]))
                    QFAIL(qPrintable(QString("%1 value %2: %3 vs %4").arg(name).arg(i).arg(got).arg(want[i])));
            }
        }
    }

    void reads_integer_grid_codes_in_place_like_the_registry() {
        const int64_t rows = 6, cols = 320;
        std::vector<float> x(size_t(rows * cols));
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i) * 0.91f) + 0.25f;
        for (const char* name : {"int3_g5_asym", "int4_g32_sym", "int7_g10_sym", "int8_pc_asym", "int2_pc_sym"}) {
            const FormatInfo& f = format_by_name(name);
            const int64_t unit = f.block_values ? f.block_values : cols;
            const size_t unit_bytes = f.block_values ? f.block_bytes : f.row_bytes(cols);
            const std::vector<uint8_t> bytes = encode_tensor(f, x, rows, cols);
            const std::vector<float> want = decode_tensor(f, bytes, rows, cols);
            for (size_t i = 0; i < want.size(); ++i) {
                const float got = formula::grid_unit_value(bytes.data() + i / size_t(unit) * unit_bytes, f.grid.bits,
                                                           f.grid.asymmetric, uint32_t(i % size_t(unit)));
                QCOMPARE(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want[i]));
            }
        }
    }
};

QTEST_GUILESS_MAIN(SharedFormulasTest)
#include "tst_gpu_shared_formulas.moc"
