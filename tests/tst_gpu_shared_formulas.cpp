// The shared formulas (core/formulas/*.inc through formulas.h) against independent references: the
// x86 F16C instructions, and the registry for the formats whose CPU codecs do not use them yet.
// (No Vulkan here.)
#include <QtTest>

#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <random>

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

    // The registry's encoding of every pattern against a formula's, one byte per value.
    template <typename Formula>
    void compare_byte_codes(const char* format, Formula formula) {
        const FormatInfo& f = format_by_name(format);
        std::vector<uint8_t> want(patterns_.size());
        f.encode_row(f, patterns_.data(), int64_t(patterns_.size()), want.data(), nullptr, nullptr);
        for (size_t i = 0; i < patterns_.size(); ++i)
            if (formula(patterns_[i]) != want[i])
                QFAIL(qPrintable(QString("%1 of 0x%2").arg(format).arg(std::bit_cast<uint32_t>(patterns_[i]), 8, 16, QChar('0'))));
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

    void encodes_fp8_like_the_registry() {
        compare_byte_codes("fp8_e4m3", formula::fp32_to_e4m3);
        compare_byte_codes("fp8_e5m2", formula::fp32_to_e5m2);
    }

    void decodes_every_fp8_code_like_the_registry() {
        for (const char* name : {"fp8_e4m3", "fp8_e5m2"}) {
            const FormatInfo& f = format_by_name(name);
            for (uint32_t code = 0; code < 256; ++code) {
                const uint8_t byte = uint8_t(code);
                float want = 0;
                f.decode_row(f, &byte, 1, &want, nullptr);
                const float got = f.name == "fp8_e4m3" ? formula::e4m3_to_fp32(code) : formula::e5m2_to_fp32(code);
                QCOMPARE(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want));
            }
        }
    }
};

QTEST_GUILESS_MAIN(SharedFormulasTest)
#include "tst_gpu_shared_formulas.moc"
