#include <QtTest>

#include <cmath>
#include <random>

#include "core/quant/format.h"
#include "core/util/half.h"

using namespace qb;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr float kNf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

Bytes encode(const std::string& name, const std::vector<float>& x) {
    return encode_tensor(format_by_name(name), x, 1, int64_t(x.size()));
}

std::vector<float> decode(const std::string& name, const Bytes& bytes, int64_t n) {
    return decode_tensor(format_by_name(name), bytes, 1, n);
}

std::vector<float> round_trip(const std::string& name, const std::vector<float>& x) {
    return decode(name, encode(name, x), int64_t(x.size()));
}

uint8_t fp8_code(const std::string& name, float x) { return encode(name, {x})[0]; }
float fp8_value(const std::string& name, uint8_t code) { return decode(name, {code}, 1)[0]; }

// Codes of a 4-bit lookup block: value j in the low nibble of byte j, value j + B/2 in the high nibble.
std::vector<int> nibble_codes(const Bytes& block, size_t scale_bytes, int64_t values) {
    std::vector<int> codes(static_cast<size_t>(values));
    for (int64_t j = 0; j < values / 2; ++j) {
        codes[size_t(j)] = block[scale_bytes + size_t(j)] & 0x0f;
        codes[size_t(j + values / 2)] = block[scale_bytes + size_t(j)] >> 4;
    }
    return codes;
}

}  // namespace

class ScaledFloatFormatsTest : public QObject {
    Q_OBJECT
private slots:
    void registers_geometry_and_bits_per_weight() {
        struct Expect { const char* name; int64_t block; size_t bytes; double bits; };
        for (const Expect& e : {Expect{"nf4", 64, 34, 4.25}, Expect{"fp4", 32, 18, 4.5}, Expect{"fp8_e4m3", 1, 1, 8.0},
                                Expect{"fp8_e5m2", 1, 1, 8.0}, Expect{"mxfp4", 32, 17, 4.25}, Expect{"mxint8", 32, 33, 8.25}}) {
            const FormatInfo& f = format_by_name(e.name);
            QCOMPARE(f.block_values, e.block);
            QCOMPARE(f.block_bytes, e.bytes);
            QCOMPARE(f.bits_per_weight(64, 4096), e.bits);
            QVERIFY(f.can_encode());
        }
        QCOMPARE(format_by_name("nf4").kind, FormatKind::Lookup4);
        QCOMPARE(format_by_name("fp8_e4m3").kind, FormatKind::MiniFloat);
        QCOMPARE(format_by_name("mxint8").kind, FormatKind::Microscaling);
        QCOMPARE(format_by_name("fp4").shape_problem(48), std::string("row length 48 is not a multiple of fp4's block of 32"));
    }

    void nf4_decodes_the_bitsandbytes_table() {
        Bytes block = {0x00, 0x3c};  // f16 scale 1.0
        for (int j = 0; j < 32; ++j) block.push_back(uint8_t((j % 16) | (15 - j % 16) << 4));
        const auto y = decode("nf4", block, 64);
        for (int j = 0; j < 32; ++j) {
            QCOMPARE(y[size_t(j)], kNf4[j % 16]);
            QCOMPARE(y[size_t(32 + j)], kNf4[15 - j % 16]);
        }
    }

    void nf4_encodes_absmax_scaled_block_layout() {
        // absmax 2 -> f16 scale 2 (0x4000); table values times 2 are exact and keep their codes.
        std::vector<float> x(64);
        for (int j = 0; j < 32; ++j) {
            x[size_t(j)] = 2.0f * kNf4[j % 16];
            x[size_t(32 + j)] = 2.0f * kNf4[15 - j % 16];
        }
        const Bytes bytes = encode("nf4", x);
        QCOMPARE(bytes.size(), size_t(34));
        QCOMPARE(bytes[0], uint8_t(0x00));
        QCOMPARE(bytes[1], uint8_t(0x40));
        for (int j = 0; j < 32; ++j) QCOMPARE(bytes[size_t(2 + j)], uint8_t((j % 16) | (15 - j % 16) << 4));
        QCOMPARE(round_trip("nf4", x), x);
    }

    void nf4_rounds_to_the_nearest_table_entry() {
        std::vector<float> x(64, 0.0f);
        x[0] = 1.0f;     // absmax 1 -> scale 1
        x[1] = 0.5f;     // 0.4407 (0.0593 away) beats 0.5626 (0.0626 away)
        x[2] = -0.6f;    // -0.5251 (0.0749) beats -0.6962 (0.0962)
        x[3] = 0.04f;    // 0.0796 (0.0396) beats 0 (0.04)
        x[4] = -0.045f;  // 0 (0.045) beats -0.0911 (0.0461)
        const auto codes = nibble_codes(encode("nf4", x), 2, 64);
        QCOMPARE(codes[0], 15);
        QCOMPARE(codes[1], 12);
        QCOMPARE(codes[2], 2);
        QCOMPARE(codes[3], 8);
        QCOMPARE(codes[4], 7);
        QCOMPARE(codes[5], 7);
    }

    void lookup_formats_decode_to_the_nearest_representable_value() {
        std::mt19937 rng(5);
        std::normal_distribution<float> normal;
        std::vector<float> x(256);
        for (float& v : x) v = normal(rng);
        for (const char* name : {"nf4", "fp4", "mxfp4"}) {
            const FormatInfo& f = format_by_name(name);
            const auto bytes = encode_tensor(f, x, 1, 256);
            const auto y = decode_tensor(f, bytes, 1, 256);
            const bool mx = f.kind == FormatKind::Microscaling;
            for (int64_t b = 0; b < 256 / f.block_values; ++b) {
                const uint8_t* block = bytes.data() + b * f.block_bytes;
                // the block scale, and every value the block could have decoded to
                const float scale = mx ? std::ldexp(1.0f, block[0] - 127) : fp16_to_fp32(uint16_t(block[0] | block[1] << 8));
                for (int64_t j = 0; j < f.block_values; ++j) {
                    const float v = x[size_t(b * f.block_values + j)], got = y[size_t(b * f.block_values + j)];
                    for (int k = 0; k < 16; ++k) {
                        const float candidate = (f.name == "nf4" ? kNf4[k] : (k & 8 ? -kE2M1[k & 7] : kE2M1[k & 7])) * scale;
                        QVERIFY2(std::fabs(v - got) <= std::fabs(v - candidate) * (1 + 1e-6f) + 1e-7f,
                                 qPrintable(QString("%1: %2 decoded to %3, %4 is nearer").arg(name).arg(v).arg(got).arg(candidate)));
                    }
                }
            }
        }
    }

    void fp4_uses_e2m1_values_and_rounds_ties_to_even() {
        std::vector<float> x = {6, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5, -5, -0.25f, -6, 1.5f, -3};
        x.resize(32, 0.0f);
        const Bytes bytes = encode("fp4", x);
        QCOMPARE(bytes.size(), size_t(18));
        QCOMPARE(bytes[0], uint8_t(0x00));  // absmax 6 -> scale 6 / 6 = 1
        QCOMPARE(bytes[1], uint8_t(0x3c));
        const auto codes = nibble_codes(bytes, 2, 32);
        // 6 -> 0111; ties: 0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4, -5 -> -4, -0.25 -> +0
        const std::vector<int> expected = {7, 0, 2, 2, 4, 4, 6, 6, 14, 0, 15, 3, 13};
        QCOMPARE(std::vector<int>(codes.begin(), codes.begin() + 13), expected);
        Bytes every_code = {0x00, 0x3c};
        for (int j = 0; j < 16; ++j) every_code.push_back(uint8_t(j | j << 4));
        const auto y = decode("fp4", every_code, 32);
        for (int j = 0; j < 16; ++j) QCOMPARE(y[size_t(j)], j & 8 ? -kE2M1[j & 7] : kE2M1[j & 7]);
    }

    void fp8_e4m3_every_code_decodes_and_reencodes_to_itself() {
        int nans = 0;
        for (int code = 0; code < 256; ++code) {
            const float v = fp8_value("fp8_e4m3", uint8_t(code));
            if (std::isnan(v)) {
                ++nans;
                QCOMPARE(code & 0x7f, 0x7f);
                QCOMPARE(fp8_code("fp8_e4m3", v) & 0x7f, 0x7f);
                continue;
            }
            QVERIFY(std::isfinite(v));
            QCOMPARE(int(fp8_code("fp8_e4m3", v)), code);
        }
        QCOMPARE(nans, 2);
        QCOMPARE(fp8_value("fp8_e4m3", 0x7e), 448.0f);
        QCOMPARE(fp8_value("fp8_e4m3", 0x38), 1.0f);
        QCOMPARE(fp8_value("fp8_e4m3", 0x08), 0x1p-6f);  // smallest normal
        QCOMPARE(fp8_value("fp8_e4m3", 0x01), 0x1p-9f);  // smallest subnormal
        QCOMPARE(fp8_value("fp8_e4m3", 0xc4), -3.0f);
        QVERIFY(std::signbit(fp8_value("fp8_e4m3", 0x80)));
    }

    void fp8_e4m3_rounds_to_nearest_even_and_saturates() {
        QCOMPARE(fp8_code("fp8_e4m3", 1.0625f), uint8_t(0x38));  // tie between 1 and 1.125 -> 1
        QCOMPARE(fp8_code("fp8_e4m3", 1.1875f), uint8_t(0x3a));  // tie between 1.125 and 1.25 -> 1.25
        QCOMPARE(fp8_code("fp8_e4m3", 0x1p-10f), uint8_t(0x00)); // half the smallest subnormal -> 0
        QCOMPARE(fp8_code("fp8_e4m3", 0x3p-10f), uint8_t(0x02)); // 1.5 subnormal steps -> 2
        QCOMPARE(fp8_code("fp8_e4m3", 0.01f), uint8_t(0x05));    // 0.01 / 2^-9 = 5.12
        QCOMPARE(fp8_code("fp8_e4m3", 440.0f), uint8_t(0x7e));
        QCOMPARE(fp8_code("fp8_e4m3", 464.0f), uint8_t(0x7e));   // tie between 448 and 480 -> 448
        QCOMPARE(fp8_code("fp8_e4m3", 480.0f), uint8_t(0x7e));   // 480 would be the NaN pattern: saturates
        QCOMPARE(fp8_code("fp8_e4m3", 1e30f), uint8_t(0x7e));
        QCOMPARE(fp8_code("fp8_e4m3", -1e30f), uint8_t(0xfe));
        QCOMPARE(fp8_code("fp8_e4m3", INFINITY), uint8_t(0x7e));
        QCOMPARE(fp8_code("fp8_e4m3", -INFINITY), uint8_t(0xfe));
        QCOMPARE(fp8_code("fp8_e4m3", NAN), uint8_t(0x7f));
        QCOMPARE(fp8_code("fp8_e4m3", -0.0f), uint8_t(0x80));
    }

    void fp8_e5m2_every_code_decodes_and_reencodes_to_itself() {
        int nans = 0;
        for (int code = 0; code < 256; ++code) {
            const float v = fp8_value("fp8_e5m2", uint8_t(code));
            if (std::isnan(v)) {
                ++nans;
                QVERIFY((code & 0x7f) > 0x7c);
                QVERIFY(std::isnan(fp8_value("fp8_e5m2", fp8_code("fp8_e5m2", v))));
                continue;
            }
            QCOMPARE(int(fp8_code("fp8_e5m2", v)), code);
        }
        QCOMPARE(nans, 6);
        QCOMPARE(fp8_value("fp8_e5m2", 0x7c), INFINITY);
        QCOMPARE(fp8_value("fp8_e5m2", 0xfc), -INFINITY);
        QCOMPARE(fp8_value("fp8_e5m2", 0x7b), 57344.0f);
        QCOMPARE(fp8_value("fp8_e5m2", 0x3c), 1.0f);
        QCOMPARE(fp8_value("fp8_e5m2", 0x01), 0x1p-16f);
    }

    void fp8_e5m2_overflows_to_infinity_like_ieee() {
        QCOMPARE(fp8_code("fp8_e5m2", 61439.0f), uint8_t(0x7b));
        QCOMPARE(fp8_code("fp8_e5m2", 61440.0f), uint8_t(0x7c));  // tie with 65536 rounds to even: inf
        QCOMPARE(fp8_code("fp8_e5m2", 1e6f), uint8_t(0x7c));
        QCOMPARE(fp8_code("fp8_e5m2", -INFINITY), uint8_t(0xfc));
        QCOMPARE(fp8_code("fp8_e5m2", 1.125f), uint8_t(0x3c));    // tie between 1 and 1.25 -> 1
        QCOMPARE(fp8_code("fp8_e5m2", 1.375f), uint8_t(0x3e));    // tie between 1.25 and 1.5 -> 1.5
        QVERIFY(std::isnan(fp8_value("fp8_e5m2", fp8_code("fp8_e5m2", NAN))));
    }

    void fp8_formats_map_to_safetensors_dtypes() {
        QCOMPARE(format_by_safetensors_dtype("F8_E4M3"), &format_by_name("fp8_e4m3"));
        QCOMPARE(format_by_safetensors_dtype("F8_E5M2"), &format_by_name("fp8_e5m2"));
    }

    void mx_shared_exponent_is_floor_log2_of_absmax_minus_emax() {
        struct Case { float absmax; uint8_t mxfp4_byte; uint8_t mxint8_byte; };
        // mxfp4: emax_elem 2; mxint8: emax_elem 0
        for (const Case& c : {Case{6.0f, 127, 129}, Case{1.0f, 125, 127}, Case{0.99f, 124, 126}, Case{7.9f, 127, 129},
                              Case{8.0f, 128, 130}, Case{0x1p-130f, 0, 0}, Case{0.0f, 0, 0}}) {
            std::vector<float> x(32, 0.0f);
            x[5] = -c.absmax;
            x[6] = c.absmax / 4;
            QCOMPARE(encode("mxfp4", x)[0], c.mxfp4_byte);
            QCOMPARE(encode("mxint8", x)[0], c.mxint8_byte);
        }
    }

    void mxfp4_matches_ggml_block_layout() {
        const FormatInfo& f = format_by_name("mxfp4");
        QCOMPARE(f.ggml_type, 39);
        QCOMPARE(format_by_ggml_type(39), &f);
        std::vector<float> x(32, 0.0f);
        x[0] = 6.0f;     // X = 1: code 0111
        x[16] = -0.5f;   // code 1001, high nibble of byte 0
        x[1] = 7.9f;     // saturates to 6
        x[17] = 2.5f;    // tie -> 2 (code 0100)
        const Bytes bytes = encode("mxfp4", x);
        QCOMPARE(bytes.size(), size_t(17));
        QCOMPARE(bytes[0], uint8_t(127));
        QCOMPARE(bytes[1], uint8_t(0x97));
        QCOMPARE(bytes[2], uint8_t(0x47));
        const auto y = decode("mxfp4", bytes, 32);
        QCOMPARE(y[1], 6.0f);
        QCOMPARE(y[17], 2.0f);
        // X = 2^3 for absmax 40: 40 / 8 = 5 is a tie between 4 and 6 -> 4 -> 32
        x.assign(32, 0.0f);
        x[3] = 40.0f;
        QCOMPARE(round_trip("mxfp4", x)[3], 32.0f);
    }

    void mxint8_stores_int8_in_steps_of_one_64th_of_the_scale() {
        std::vector<float> x(32, 0.0f);
        x[0] = 3.0f;     // absmax 3: X = 2, element 1.5 -> q 96
        x[1] = -1.0f;    // -0.5 -> -32
        x[2] = 0.015f;   // 0.0075 * 64 = 0.48 -> 0
        x[3] = 0.05f;    // 1.6 -> 2 -> 0.0625
        const Bytes bytes = encode("mxint8", x);
        QCOMPARE(bytes.size(), size_t(33));
        QCOMPARE(bytes[0], uint8_t(128));
        QCOMPARE(int8_t(bytes[1]), int8_t(96));
        QCOMPARE(int8_t(bytes[2]), int8_t(-32));
        QCOMPARE(int8_t(bytes[3]), int8_t(0));
        QCOMPARE(int8_t(bytes[4]), int8_t(2));
        const auto y = decode("mxint8", bytes, 32);
        QCOMPARE(y[0], 3.0f);
        QCOMPARE(y[3], 0.0625f);
        x[0] = 1.999f;   // X = 1: 127.94 saturates to 127 -> 1.984375
        x[1] = -1.999f;
        const auto z = round_trip("mxint8", x);
        QCOMPARE(z[0], 1.984375f);
        QCOMPARE(z[1], -1.984375f);
    }

    void mx_block_with_infinity_decodes_to_nan() {
        std::vector<float> x(64, 1.0f);
        x[40] = INFINITY;
        for (const char* name : {"mxfp4", "mxint8"}) {
            const Bytes bytes = encode(name, x);
            const auto y = decode(name, bytes, 64);
            QCOMPARE(bytes[format_by_name(name).block_bytes], uint8_t(0xff));
            QCOMPARE(y[0], 1.0f);  // the first block is unaffected
            QVERIFY(std::isnan(y[33]));
        }
    }
};

QTEST_GUILESS_MAIN(ScaledFloatFormatsTest)
#include "tst_scaled_float_formats.moc"
