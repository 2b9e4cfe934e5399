// The ggml block types (and the f16/bf16 storage types) against the bytes and floats llama.cpp itself
// produced: vectors/quant-vectors.gguf holds, per type, ggml's encoding of 64 test rows x 256 values
// without and with an importance vector, and ggml's decoding of those bytes.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <memory>

#include "core/io/gguf_reader.h"
#include "core/quant/error_metrics.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

const char* const kBlockTypes[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k",
                                   "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};

std::span<const float> floats(const GgufTensorInfo& t) {
    return {reinterpret_cast<const float*>(t.data.data()), t.data.size() / sizeof(float)};
}

// "" when equal, else how many bytes differ and where the first difference is.
std::string byte_difference(std::span<const uint8_t> got, std::span<const uint8_t> want, size_t block_bytes,
                            size_t row_bytes) {
    if (got.size() != want.size())
        return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    size_t differing = 0, first = 0;
    for (size_t i = got.size(); i-- > 0;)
        if (got[i] != want[i]) {
            ++differing;
            first = i;
        }
    if (!differing) return {};
    return std::to_string(differing) + " of " + std::to_string(got.size()) + " bytes differ; first at byte " +
           std::to_string(first) + " (row " + std::to_string(first / row_bytes) + ", block " +
           std::to_string(first % row_bytes / block_bytes) + ", byte " + std::to_string(first % block_bytes) + ")";
}

// "" when bitwise equal, else how many floats differ and the first one.
std::string float_difference(const std::vector<float>& got, std::span<const float> want) {
    if (got.size() != want.size())
        return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    size_t differing = 0, first = 0;
    for (size_t i = got.size(); i-- > 0;)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            ++differing;
            first = i;
        }
    if (!differing) return {};
    return std::to_string(differing) + " of " + std::to_string(got.size()) + " values differ; first at " +
           std::to_string(first) + ": " + std::to_string(got[first]) + " vs " + std::to_string(want[first]);
}

}  // namespace

class GgufCodecsTest : public QObject {
    Q_OBJECT

    std::unique_ptr<GgufFile> vectors_;
    std::span<const float> input_;
    std::span<const float> importance_;
    int64_t rows_ = 0;
    int64_t cols_ = 0;

    // Rows: every block type, with and without the importance vector; with_plain adds f16 and bf16.
    static void add_variants(bool with_plain) {
        QTest::addColumn<QString>("type");
        QTest::addColumn<bool>("weighted");
        if (with_plain)
            for (const char* t : {"f16", "bf16"}) QTest::newRow(t) << QString(t) << false;
        for (const char* t : kBlockTypes) {
            QTest::newRow(t) << QString(t) << false;
            QTest::newRow((std::string(t) + " imatrix").c_str()) << QString(t) << true;
        }
    }

    static std::string reference_name(const QString& type, bool weighted) {
        return type.toStdString() + (weighted ? ".imatrix" : "");
    }

private slots:
    void initTestCase() {
        vectors_ = std::make_unique<GgufFile>(qbtest::data_path("vectors/quant-vectors.gguf"));
        const auto& input = vectors_->tensor("input");
        rows_ = input.rows();
        cols_ = input.cols();
        input_ = floats(input);
        importance_ = floats(vectors_->tensor("imatrix"));
        QCOMPARE(cols_, 256);
        QCOMPARE(rows_, 64);
        QCOMPARE(int64_t(importance_.size()), cols_);
    }

    void registers_ggml_block_types_with_ggml_geometry_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("ggml_type");
        QTest::addColumn<int>("block_values");
        QTest::addColumn<int>("block_bytes");
        QTest::addColumn<double>("bits");
        QTest::newRow("q4_0") << "q4_0" << 2 << 32 << 18 << 4.5;
        QTest::newRow("q4_1") << "q4_1" << 3 << 32 << 20 << 5.0;
        QTest::newRow("q5_0") << "q5_0" << 6 << 32 << 22 << 5.5;
        QTest::newRow("q5_1") << "q5_1" << 7 << 32 << 24 << 6.0;
        QTest::newRow("q8_0") << "q8_0" << 8 << 32 << 34 << 8.5;
        QTest::newRow("q2_k") << "q2_k" << 10 << 256 << 84 << 2.625;
        QTest::newRow("q3_k") << "q3_k" << 11 << 256 << 110 << 3.4375;
        QTest::newRow("q4_k") << "q4_k" << 12 << 256 << 144 << 4.5;
        QTest::newRow("q5_k") << "q5_k" << 13 << 256 << 176 << 5.5;
        QTest::newRow("q6_k") << "q6_k" << 14 << 256 << 210 << 6.5625;
        QTest::newRow("iq4_nl") << "iq4_nl" << 20 << 32 << 18 << 4.5;
        QTest::newRow("iq4_xs") << "iq4_xs" << 23 << 256 << 136 << 4.25;
    }
    void registers_ggml_block_types_with_ggml_geometry() {
        QFETCH(QString, type);
        QFETCH(int, ggml_type);
        QFETCH(int, block_values);
        QFETCH(int, block_bytes);
        QFETCH(double, bits);
        const FormatInfo& f = format_by_name(type.toUpper().toStdString());
        QCOMPARE(QString::fromStdString(f.name), type);
        QVERIFY(f.kind == FormatKind::GgufBlock);
        QCOMPARE(f.ggml_type, ggml_type);
        QCOMPARE(f.block_values, int64_t(block_values));
        QCOMPARE(f.block_bytes, size_t(block_bytes));
        QCOMPARE(f.nominal_bits, bits);
        QVERIFY(f.can_encode());
        QVERIFY(!f.description.empty());
        QCOMPARE(format_by_ggml_type(ggml_type), &f);
        QCOMPARE(f.tensor_bytes(64, 512), size_t(64 * 512 / block_values * block_bytes));
    }

    void decodes_bit_exact_against_ggml_data() { add_variants(true); }
    void decodes_bit_exact_against_ggml() {
        QFETCH(QString, type);
        QFETCH(bool, weighted);
        const std::string name = reference_name(type, weighted);
        const auto& encoded = vectors_->tensor(name);
        const FormatInfo& f = format_by_name(type.toStdString());
        QCOMPARE(encoded.ggml_type, f.ggml_type);
        const auto decoded = decode_tensor(f, encoded.data, rows_, cols_);
        const std::string problem = float_difference(decoded, floats(vectors_->tensor(name + ".dequant")));
        QVERIFY2(problem.empty(), problem.c_str());
    }

    void encodes_bit_exact_against_ggml_data() { add_variants(true); }
    void encodes_bit_exact_against_ggml() {
        QFETCH(QString, type);
        QFETCH(bool, weighted);
        const FormatInfo& f = format_by_name(type.toStdString());
        const auto encoded = encode_tensor(f, input_, rows_, cols_, weighted ? importance_.data() : nullptr);
        const std::string problem = byte_difference(encoded, vectors_->tensor(reference_name(type, weighted)).data,
                                                    f.block_bytes, f.row_bytes(cols_));
        QVERIFY2(problem.empty(), problem.c_str());
    }

    void encodes_the_same_bytes_on_many_threads() {
        for (const char* t : kBlockTypes) {
            const FormatInfo& f = format_by_name(t);
            const auto one = encode_tensor(f, input_, rows_, cols_, importance_.data(), 1);
            const auto many = encode_tensor(f, input_, rows_, cols_, importance_.data(), 4);
            QVERIFY2(one == many, t);
        }
    }

    // Round trip on the gaussian-like rows: relative RMSE within what each type's bits allow.
    void round_trip_error_matches_the_bit_budget_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<double>("min_relative_rmse");
        QTest::addColumn<double>("max_relative_rmse");
        QTest::newRow("q8_0") << "q8_0" << 0.003 << 0.008;
        QTest::newRow("q6_k") << "q6_k" << 0.01 << 0.03;
        QTest::newRow("q5_1") << "q5_1" << 0.02 << 0.06;
        QTest::newRow("q5_0") << "q5_0" << 0.02 << 0.06;
        QTest::newRow("q5_k") << "q5_k" << 0.02 << 0.06;
        QTest::newRow("q4_1") << "q4_1" << 0.05 << 0.11;
        QTest::newRow("q4_0") << "q4_0" << 0.05 << 0.11;
        QTest::newRow("q4_k") << "q4_k" << 0.05 << 0.10;
        QTest::newRow("iq4_nl") << "iq4_nl" << 0.05 << 0.10;
        QTest::newRow("iq4_xs") << "iq4_xs" << 0.05 << 0.10;
        QTest::newRow("q3_k") << "q3_k" << 0.10 << 0.20;
        QTest::newRow("q2_k") << "q2_k" << 0.20 << 0.40;
    }
    void round_trip_error_matches_the_bit_budget() {
        QFETCH(QString, type);
        QFETCH(double, min_relative_rmse);
        QFETCH(double, max_relative_rmse);
        const FormatInfo& f = format_by_name(type.toStdString());
        const std::vector<float> gaussian = gaussian_rows(4096);
        const int64_t rows = int64_t(gaussian.size()) / cols_;
        const ErrorMetrics error = measure_format_error(f, gaussian.data(), rows, cols_);
        double signal = 0;
        for (float v : gaussian) signal += double(v) * v;
        const double relative = error.rmse / std::sqrt(signal / double(gaussian.size()));
        QVERIFY2(relative >= min_relative_rmse && relative <= max_relative_rmse,
                 (type.toStdString() + " relative rmse " + std::to_string(relative)).c_str());
        QCOMPARE(error.bits_per_weight, f.nominal_bits);
    }

    // What an imatrix is for: the importance-weighted error drops (q8_0 ignores the importance vector).
    void importance_vector_lowers_the_weighted_error() {
        const std::vector<float> gaussian = gaussian_rows(4096);
        const int64_t rows = int64_t(gaussian.size()) / cols_;
        for (const char* t : kBlockTypes) {
            const FormatInfo& f = format_by_name(t);
            auto weighted_rmse = [&](const float* importance) {
                const auto decoded = decode_tensor(f, encode_tensor(f, gaussian, rows, cols_, importance), rows, cols_);
                ErrorAccumulator error(cols_, importance_.data());
                error.add_rows(gaussian.data(), decoded.data(), rows);
                return error.metrics().rmse;
            };
            const double plain = weighted_rmse(nullptr), weighted = weighted_rmse(importance_.data());
            const std::string numbers = std::string(t) + ": " + std::to_string(weighted) + " vs " + std::to_string(plain);
            if (f.name == "q8_0") QVERIFY2(weighted == plain, numbers.c_str());
            else QVERIFY2(weighted < 0.97 * plain, numbers.c_str());
        }
    }

    void rejects_a_row_length_that_is_not_a_whole_number_of_blocks_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("cols");
        QTest::addColumn<QString>("message");
        QTest::newRow("q4_k 172") << "q4_k" << 172 << "format q4_k: row length 172 is not a multiple of q4_k's block of 256";
        QTest::newRow("q2_k 64") << "q2_k" << 64 << "format q2_k: row length 64 is not a multiple of q2_k's block of 256";
        QTest::newRow("q4_0 172") << "q4_0" << 172 << "format q4_0: row length 172 is not a multiple of q4_0's block of 32";
        QTest::newRow("iq4_xs 96") << "iq4_xs" << 96 << "format iq4_xs: row length 96 is not a multiple of iq4_xs's block of 256";
    }
    void rejects_a_row_length_that_is_not_a_whole_number_of_blocks() {
        QFETCH(QString, type);
        QFETCH(int, cols);
        QFETCH(QString, message);
        const FormatInfo& f = format_by_name(type.toStdString());
        const std::vector<float> row(size_t(cols), 0.5f);
        std::vector<uint8_t> out(4096);
        std::vector<float> back(static_cast<size_t>(cols));
        auto expect_error = [&](auto&& call) {
            try {
                call();
                QFAIL("no error");
            } catch (const Error& e) {
                QCOMPARE(QString(e.what()), message);
            }
        };
        expect_error([&] { encode_tensor(f, row, 1, cols); });
        expect_error([&] { f.encode_row(f, row.data(), cols, out.data(), nullptr, nullptr); });
        expect_error([&] { f.decode_row(f, out.data(), cols, back.data(), nullptr); });
    }

private:
    // Deterministic normal-ish values (sum of uniforms), a whole number of rows of cols_.
    std::vector<float> gaussian_rows(int64_t count) const {
        std::vector<float> v(size_t((count / cols_) * cols_));
        uint32_t state = 12345;
        auto uniform = [&] {
            state = state * 1664525u + 1013904223u;
            return float(state >> 8) / float(1u << 24);
        };
        for (float& x : v) {
            float sum = 0;
            for (int k = 0; k < 12; ++k) sum += uniform();
            x = sum - 6.0f;
        }
        return v;
    }
};

QTEST_GUILESS_MAIN(GgufCodecsTest)
#include "tst_gguf_codecs.moc"
