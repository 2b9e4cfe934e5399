// The C++ side of the formulas the shaders use (core/formulas/*.inc through formulas.h) gives the
// CPU registry's numbers: the proof that a shader including the same text matches the CPU, until the
// CPU codecs include the formulas themselves. (No Vulkan here.)
#include <QtTest>

#include <cstring>
#include <random>

#include "core/formulas/formulas.h"
#include "core/quant/format.h"
#include "core/util/half.h"

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

std::vector<float> gaussian_rows(int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss;
    std::vector<float> x(size_t(rows * cols));
    for (int64_t i = 0; i < rows * cols; ++i) x[size_t(i)] = gauss(rng) * std::pow(10.0f, float(i / cols % 9) - 4.0f);
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
    void converts_f16_and_bf16_like_core_util_half() {
        for (float x : patterns_) {
            QCOMPARE(formula::fp32_to_fp16_bits(x), uint32_t(fp32_to_fp16(x)));
            QCOMPARE(formula::fp32_to_bf16_bits(x), uint32_t(fp32_to_bf16(x)));
        }
        for (uint32_t h = 0; h < 65536; ++h) {
            QCOMPARE(std::bit_cast<uint32_t>(formula::fp16_bits_to_fp32(h)), std::bit_cast<uint32_t>(fp16_to_fp32(uint16_t(h))));
            QCOMPARE(std::bit_cast<uint32_t>(formula::bf16_bits_to_fp32(h)), std::bit_cast<uint32_t>(bf16_to_fp32(uint16_t(h))));
        }
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

    void encodes_and_decodes_q8_0_and_q4_0_blocks_like_the_registry() {
        const std::vector<float> x = gaussian_rows(64, 256, 1);
        const std::vector<uint8_t> q8 = encode_tensor(format_by_name("q8_0"), x, 64, 256);
        const std::vector<uint8_t> q4 = encode_tensor(format_by_name("q4_0"), x, 64, 256);
        for (size_t b = 0; b < x.size() / 32; ++b) {
            uint32_t bytes8[34], bytes4[18];
            float back8[32], back4[32];
            formula::q8_0_encode_block(&x[b * 32], bytes8);
            formula::q4_0_encode_block(&x[b * 32], bytes4);
            for (int k = 0; k < 34; ++k) QCOMPARE(bytes8[k], uint32_t(q8[b * 34 + size_t(k)]));
            for (int k = 0; k < 18; ++k) QCOMPARE(bytes4[k], uint32_t(q4[b * 18 + size_t(k)]));
            formula::q8_0_decode_block(bytes8, back8);
            formula::q4_0_decode_block(bytes4, back4);
            const std::vector<float> want8 = decode_tensor(format_by_name("q8_0"), {&q8[b * 34], 34}, 1, 32);
            const std::vector<float> want4 = decode_tensor(format_by_name("q4_0"), {&q4[b * 18], 18}, 1, 32);
            QVERIFY(std::memcmp(back8, want8.data(), sizeof back8) == 0);
            QVERIFY(std::memcmp(back4, want4.data(), sizeof back4) == 0);
        }
    }

    void chooses_integer_grid_records_like_the_registry() {
        const std::vector<float> x = gaussian_rows(16, 64, 2);
        for (const char* name : {"int4_g64_sym", "int3_g64_asym", "int8_g64_asym"}) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<uint8_t> bytes = encode_tensor(f, x, 16, 64);
            for (int64_t r = 0; r < 16; ++r) {
                const float* row = &x[size_t(r * 64)];
                const uint8_t* record = &bytes[size_t(r) * f.block_bytes];
                float lo = 0, hi = 0, absmax = 0;
                for (int i = 0; i < 64; ++i) {
                    lo = formula::fmin_number(lo, row[i]);
                    hi = formula::fmax_number(hi, row[i]);
                    absmax = formula::fmax_number(absmax, std::fabs(row[i]));
                }
                const uint32_t want = uint32_t(record[0] | record[1] << 8) | (f.grid.asymmetric ? uint32_t(record[2]) << 16 : 0);
                const uint32_t got = f.grid.asymmetric ? formula::grid_asymmetric_record(lo, hi, f.grid.bits)
                                                       : formula::grid_symmetric_scale(absmax, f.grid.bits);
                QCOMPARE(got, want);
            }
        }
    }
};

QTEST_GUILESS_MAIN(SharedFormulasTest)
#include "tst_gpu_shared_formulas.moc"
