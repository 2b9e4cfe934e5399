// The shared formulas (core/formulas/*.inc through formulas.h), which the CPU codecs and the shaders
// both use, against independent references: the x86 F16C instructions, round trips, bitsandbytes' NF4
// table and the tie rules the lookup tables' constant bounds encode. (No Vulkan here.)
#include <QtTest>

#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <random>

#include "core/formulas/formulas.h"

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
};

QTEST_GUILESS_MAIN(SharedFormulasTest)
#include "tst_gpu_shared_formulas.moc"
