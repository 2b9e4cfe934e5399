// The Vulkan format kernels against the CPU registry and llama.cpp's own bytes, on the default Vulkan
// device (lavapipe in CI) with the validation layer on: every test also fails on any validation message.
#include <QtTest>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/backend/backend.h"
#include "core/io/gguf_reader.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/codec_kernels.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/support/test_data.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

// Registry formats the GPU has no kernel for, and why. Every other registered format must encode (if the
// registry encodes it) and decode on the device: runs_every_registered_format_on_the_device.
struct Exception {
    const char* format;
    const char* reason;
};
const Exception kCpuOnlyFormats[] = {
    {"f32", "plain IEEE values: encoding copies them (decoding is a GPU identity, checked)"},
    {"f64", "plain IEEE values: a conversion, not a quantizer"},
    {"i8", "raw integers: the registry does not encode them and decoding is a conversion"},
    {"u8", "raw integers: the registry does not encode them and decoding is a conversion"},
    {"i16", "raw integers: the registry does not encode them and decoding is a conversion"},
    {"i32", "raw integers: the registry does not encode them and decoding is a conversion"},
    {"i64", "raw integers: the registry does not encode them and decoding is a conversion"},
};

// Formats the GPU decodes but the CPU encodes.
const std::array<Exception, 0> kCpuEncodedFormats{};  // none at present

const char* reason_in(std::span<const Exception> list, const FormatInfo& f) {
    for (const Exception& e : list)
        if (f.name == e.format) return e.reason;
    return nullptr;
}
const char* cpu_only_reason(const FormatInfo& f) { return reason_in(kCpuOnlyFormats, f); }
const char* cpu_encoded_reason(const FormatInfo& f) { return reason_in(kCpuEncodedFormats, f); }

// Every registered format with GPU kernels (encoders: without the CPU-encoded ones), and parsed grid names
// beyond the registry's presets (per-tensor grids of other bits, asymmetric, with the clipping search).
// Data rows "format" of the GPU's formats: each format is its own test case (and its own watchdog time).
void add_format_rows(const std::vector<const char*>& names) {
    QTest::addColumn<QString>("format");
    for (const char* name : names) QTest::newRow(name) << QString(name);
}

std::vector<const FormatInfo*> gpu_formats(bool encoders = true) {
    std::vector<const FormatInfo*> formats;
    for (const FormatInfo* f : registered_formats())
        if (!cpu_only_reason(*f) && !(encoders && cpu_encoded_reason(*f))) formats.push_back(f);
    for (const char* name : {"int3_g64_sym", "int8_g32_asym", "int2_g16_asym", "int5_g128_sym", "int3_g64_sym_clip",
                             "int4_pt_asym", "int3_pt_sym", "int2_pt_asym", "int6_pt_asym_clip", "int4_pt_sym_clip"})
        formats.push_back(&format_by_name(name));
    return formats;
}

// In llama.cpp's quant vectors: ggml's bytes of the test rows (with and without the imatrix), and ggml's
// floats of those bytes.
const char* const kLlamaEncodedFormats[] = {"f16",  "bf16", "q8_0", "q4_0", "q4_1", "q5_0",   "q5_1",
                                            "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};
const char* const kLlamaWeightedFormats[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0",   "q2_k",
                                             "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};
const char* const kLlamaDecodedFormats[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k",  "q3_k",
                                            "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};
// Formats whose encoders treat NaN and Inf deterministically (ggml's block types do not).
bool takes_non_finite(const FormatInfo& f) { return f.kind != FormatKind::GgufBlock; }

int64_t c_index(int64_t cols, int64_t r) { return (r * 37) % cols; }

// Rows of 256 values that visit every rounding path: zeros, constants, signed extremes, halfway and
// subnormal cases of f16, huge and tiny magnitudes, and gaussian rows at scales 1e-6 .. 1e4.
std::vector<float> awkward_rows(int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss;
    std::vector<float> x(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
        float* row = x.data() + r * cols;
        const float scale = std::pow(10.0f, float(r % 11) - 6.0f);
        for (int64_t c = 0; c < cols; ++c) row[c] = gauss(rng) * scale;
        switch (r % 8) {
            case 0: std::fill(row, row + cols, 0.0f); break;
            case 1: std::fill(row, row + cols, -0.375f); break;
            case 2: row[c_index(cols, r)] = -70000.0f; break;  // beyond f16: rounds to -inf
            case 3:
                for (int64_t c = 0; c < cols; ++c) row[c] = std::ldexp(float(c % 7) + 0.5f, -24 - int(c % 5));
                break;
            case 4:
                for (int64_t c = 0; c < cols; c += 2) row[c] = 1.0f + std::ldexp(float(c % 4 + 1), -11);  // f16 halfway
                break;
            case 5:
                for (int64_t c = 0; c < cols; c += 3) row[c] = std::ldexp(1.0f + float(c % 8) / 8, int(c % 40) - 20);  // fp8 grid
                break;
            default: break;
        }
    }
    return x;
}

// awkward_rows with NaN, +Inf and -Inf in some rows.
std::vector<float> rows_with_non_finite(int64_t rows, int64_t cols, uint32_t seed) {
    std::vector<float> x = awkward_rows(rows, cols, seed);
    for (int64_t r = 0; r < rows; r += 3) {
        x[size_t(r * cols + (r * 5) % cols)] = std::numeric_limits<float>::quiet_NaN();
        if (r % 2) x[size_t(r * cols + (r * 11) % cols)] = std::numeric_limits<float>::infinity();
        if (r % 4 == 0) x[size_t(r * cols + (r * 13) % cols)] = -std::numeric_limits<float>::infinity();
    }
    return x;
}

std::span<const float> floats(const GgufTensorInfo& t) {
    return {reinterpret_cast<const float*>(t.data.data()), t.data.size() / sizeof(float)};
}

// Per-column weights spanning two orders of magnitude, like an imatrix.
std::vector<float> column_importance(int64_t cols) {
    std::vector<float> w(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) w[size_t(c)] = 0.05f + float((c * 7919) % 97) * 0.1f;
    return w;
}

std::string byte_difference(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
    if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    size_t differing = 0, first = got.size();
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i] && differing++ == 0) first = i;
    if (!differing) return {};
    return std::to_string(differing) + " of " + std::to_string(got.size()) + " bytes differ, the first at byte " +
           std::to_string(first);
}

std::string bit_difference(const std::vector<float>& got, std::span<const float> want) {
    if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    size_t differing = 0, first = got.size();
    for (size_t i = 0; i < got.size(); ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && differing++ == 0) first = i;
    if (!differing) return {};
    return std::to_string(differing) + " of " + std::to_string(got.size()) + " values differ, the first at " +
           std::to_string(first) + ": " + std::to_string(got[first]) + " vs " + std::to_string(want[first]);
}

}  // namespace

class GpuCodecsTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;
    std::unique_ptr<gpu::VulkanBackend> gpu_;

    std::vector<uint8_t> gpu_encode(const FormatInfo& f, const std::vector<float>& x, int64_t rows, int64_t cols,
                                    gpu::VulkanBackend& backend) {
        std::vector<uint8_t> out(f.tensor_bytes(rows, cols));
        backend.encode(f, rows, cols, x.data(), out.data(), nullptr, nullptr);
        return out;
    }

    std::vector<float> gpu_decode(const FormatInfo& f, std::span<const uint8_t> bytes, int64_t rows, int64_t cols) {
        std::vector<float> out(size_t(rows * cols));
        gpu_->decode(f, rows, cols, bytes.data(), out.data(), nullptr);
        return out;
    }

private slots:
    void initTestCase() {
        QB_VERIFY_EMPTY(qbtest::open_validated_device(device_));
        gpu_ = std::make_unique<gpu::VulkanBackend>(device_);
        qInfo("device: %s", gpu_->description().c_str());
    }

    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void runs_every_registered_format_on_the_device() {
        int covered = 0;
        for (const FormatInfo* f : registered_formats()) {
            if (const char* reason = cpu_only_reason(*f)) {
                qInfo("%s: no GPU kernel (%s)", f->name.c_str(), reason);
                continue;
            }
            QVERIFY2(gpu_->accelerates_decode(*f), (f->name + " has no GPU decoder").c_str());
            QVERIFY2(f->can_encode(), (f->name + ": the registry cannot encode it").c_str());
            if (const char* reason = cpu_encoded_reason(*f)) {
                qInfo("%s: encoded on the CPU (%s)", f->name.c_str(), reason);
                QVERIFY2(!gpu_->accelerates_encode(*f, false), (f->name + " has a GPU encoder: test it").c_str());
                ++covered;
                continue;
            }
            QVERIFY2(gpu_->accelerates_encode(*f, false), (f->name + " has no GPU encoder").c_str());
            QVERIFY2(gpu_->accelerates_encode(*f, true), (f->name + " has no GPU encoder with importance").c_str());
            ++covered;
        }
        QVERIFY(covered >= 40);
        QVERIFY(gpu_->accelerates_decode(format_by_name("f32")));  // the identity, checked below
        for (const Exception& e : kCpuOnlyFormats) QVERIFY2(!gpu_->accelerates_encode(format_by_name(e.format), false), e.format);
    }

    static std::vector<const char*> encoder_names() {
        std::vector<const char*> names;
        for (const FormatInfo* f : gpu_formats()) names.push_back(f->name.c_str());
        return names;
    }

    // With and without an importance vector: formats that ignore it must ignore it on both sides.
    void encodes_bit_exact_against_the_cpu_registry_data() { add_format_rows(encoder_names()); }
    void encodes_bit_exact_against_the_cpu_registry() {
        QFETCH(QString, format);
        const int64_t rows = 48, cols = 256;
        const std::vector<float> importance = column_importance(cols);
        {
            const FormatInfo* f = &format_by_name(format.toStdString());
            const std::vector<float> x = takes_non_finite(*f) ? rows_with_non_finite(rows, cols, 7) : awkward_rows(rows, cols, 7);
            const std::string diff = byte_difference(gpu_encode(*f, x, rows, cols, *gpu_), encode_tensor(*f, x, rows, cols));
            QVERIFY2(diff.empty(), (f->name + ": " + diff).c_str());
            std::vector<uint8_t> weighted(f->tensor_bytes(rows, cols));
            gpu_->encode(*f, rows, cols, x.data(), weighted.data(), importance.data(), nullptr);
            const std::string weighted_diff = byte_difference(weighted, encode_tensor(*f, x, rows, cols, importance.data()));
            QVERIFY2(weighted_diff.empty(), (f->name + " with importance: " + weighted_diff).c_str());
        }
    }

    void decodes_f32_as_the_identity() {
        const std::vector<float> x = rows_with_non_finite(8, 256, 4);
        const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(x.data()), x.size() * sizeof(float));
        const std::string diff = bit_difference(gpu_decode(format_by_name("f32"), bytes, 8, 256), x);
        QVERIFY2(diff.empty(), diff.c_str());
    }

    void decodes_every_f16_and_bf16_bit_pattern_like_the_cpu() {
        std::vector<uint8_t> patterns(65536 * 2);
        for (uint32_t h = 0; h < 65536; ++h) {
            patterns[2 * h] = uint8_t(h);
            patterns[2 * h + 1] = uint8_t(h >> 8);
        }
        for (const char* name : {"f16", "bf16"}) {
            const FormatInfo& f = format_by_name(name);
            const std::string diff = bit_difference(gpu_decode(f, patterns, 256, 256), decode_tensor(f, patterns, 256, 256));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
        }
    }

    void decodes_every_fp8_code_like_the_cpu() {
        std::vector<uint8_t> codes(256);
        for (uint32_t c = 0; c < 256; ++c) codes[c] = uint8_t(c);
        for (const char* name : {"fp8_e4m3", "fp8_e5m2"}) {
            const FormatInfo& f = format_by_name(name);
            const std::string diff = bit_difference(gpu_decode(f, codes, 1, 256), decode_tensor(f, codes, 1, 256));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
        }
    }

    void encodes_grids_whose_groups_end_inside_a_byte() {
        const FormatInfo& f = format_by_name("int3_g5_asym");  // 15 bits of codes: one padding bit per group
        const std::vector<float> x = rows_with_non_finite(40, 250, 9);
        const std::vector<uint8_t> bytes = gpu_encode(f, x, 40, 250, *gpu_);
        const std::string diff = byte_difference(bytes, encode_tensor(f, x, 40, 250));
        QVERIFY2(diff.empty(), diff.c_str());
        const std::string float_diff = bit_difference(gpu_decode(f, bytes, 40, 250), decode_tensor(f, bytes, 40, 250));
        QVERIFY2(float_diff.empty(), float_diff.c_str());
    }

    void decodes_block_formats_bit_exact_against_the_cpu() {
        for (const FormatInfo* format : gpu_formats(false)) {
            const FormatInfo& f = *format;
            const std::string& name = f.name;
            if (f.block_values == 1) continue;  // every code of those: the tests above
            const std::vector<float> x = awkward_rows(40, 512, 11);
            const std::vector<uint8_t> bytes = encode_tensor(f, x, 40, 512);
            const std::string diff = bit_difference(gpu_decode(f, bytes, 40, 512), decode_tensor(f, bytes, 40, 512));
            QVERIFY2(diff.empty(), (name + ": " + diff).c_str());
        }
    }

    void reproduces_llama_cpp_bytes_of_the_quant_vectors_data() {
        add_format_rows({std::begin(kLlamaEncodedFormats), std::end(kLlamaEncodedFormats)});
    }
    void reproduces_llama_cpp_bytes_of_the_quant_vectors() {
        QFETCH(QString, format);
        const std::string name = format.toStdString();
        GgufFile vectors(qbtest::data_path("vectors/quant-vectors.gguf"));
        const std::span<const float> in = floats(vectors.tensor("input"));
        const std::vector<float> x(in.begin(), in.end());
        const FormatInfo& f = format_by_name(name);
        const std::span<const uint8_t> want = vectors.tensor(name).data;
        QVERIFY(gpu_->accelerates_encode(f, false));
        const std::string diff = byte_difference(gpu_encode(f, x, 64, 256, *gpu_), {want.begin(), want.end()});
        QVERIFY2(diff.empty(), (name + " bytes: " + diff).c_str());
    }

    void reproduces_llama_cpp_imatrix_bytes_of_the_quant_vectors_data() {
        add_format_rows({std::begin(kLlamaWeightedFormats), std::end(kLlamaWeightedFormats)});
    }
    void reproduces_llama_cpp_imatrix_bytes_of_the_quant_vectors() {
        QFETCH(QString, format);
        const std::string name = format.toStdString();
        GgufFile vectors(qbtest::data_path("vectors/quant-vectors.gguf"));
        const std::span<const float> in = floats(vectors.tensor("input"));
        const std::vector<float> x(in.begin(), in.end());
        const std::span<const float> imatrix = floats(vectors.tensor("imatrix"));
        const FormatInfo& f = format_by_name(name);
        QVERIFY(gpu_->accelerates_encode(f, true));
        const std::span<const uint8_t> want = vectors.tensor(name + ".imatrix").data;
        std::vector<uint8_t> got(f.tensor_bytes(64, 256));
        gpu_->encode(f, 64, 256, x.data(), got.data(), imatrix.data(), nullptr);
        const std::string diff = byte_difference(got, {want.begin(), want.end()});
        QVERIFY2(diff.empty(), (name + " with the imatrix: " + diff).c_str());
    }

    void reproduces_llama_cpp_floats_of_the_quant_vectors() {
        GgufFile vectors(qbtest::data_path("vectors/quant-vectors.gguf"));
        for (const char* name : kLlamaDecodedFormats) {
            const FormatInfo& f = format_by_name(name);
            const std::string float_diff = bit_difference(gpu_decode(f, vectors.tensor(name).data, 64, 256), floats(vectors.tensor(std::string(name) + ".dequant")));
            QVERIFY2(float_diff.empty(), (std::string(name) + " floats: " + float_diff).c_str());
        }
    }

    void streams_small_chunks_into_identical_bytes_data() { add_format_rows(encoder_names()); }
    void streams_small_chunks_into_identical_bytes() {
        QFETCH(QString, format);
        gpu::VulkanBackend small_chunks(device_, {.chunk_bytes = 64 * 1024});
        const int64_t rows = 180, cols = 1024;  // 737 KB of input: 12 chunks, the last one partial
        const std::vector<float> x = awkward_rows(rows, cols, 3);
        {
            const FormatInfo* f = &format_by_name(format.toStdString());
            const std::vector<uint8_t> chunked = gpu_encode(*f, x, rows, cols, small_chunks);
            QVERIFY(small_chunks.last_timing().chunks > 10);
            const std::string diff = byte_difference(chunked, encode_tensor(*f, x, rows, cols));
            QVERIFY2(diff.empty(), (f->name + ": " + diff).c_str());
        }
    }

    void streams_through_staging_buffers_like_a_discrete_gpu() {
        qputenv("QB_VULKAN_STAGING", "1");
        gpu::DeviceStatus staged = gpu::open_default_device({.validation = true});
        qunsetenv("QB_VULKAN_STAGING");
        QVERIFY2(staged.available(), staged.reason.c_str());
        QVERIFY(!staged.device->unified_memory());
        gpu::VulkanBackend backend(staged.device, {.chunk_bytes = 64 * 1024});
        const int64_t rows = 120, cols = 1024;
        const std::vector<float> x = awkward_rows(rows, cols, 8);
        for (const char* name : {"q8_0", "int4_g128_asym"}) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<uint8_t> bytes = gpu_encode(f, x, rows, cols, backend);
            const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
            std::vector<float> back(x.size());
            backend.decode(f, rows, cols, bytes.data(), back.data(), nullptr);
            const std::string float_diff = bit_difference(back, decode_tensor(f, bytes, rows, cols));
            QVERIFY2(float_diff.empty(), (std::string(name) + ": " + float_diff).c_str());
        }
        const StatsRequest request{.bins = 100, .lo = -2.0, .hi = 2.0, .col_absmax = true};
        const TensorStats got = backend.statistics(x.data(), rows, cols, request, nullptr);
        const TensorStats want = make_cpu_backend()->statistics(x.data(), rows, cols, request, nullptr);
        QCOMPARE(got.histogram.counts, want.histogram.counts);
        QCOMPARE(got.col_absmax, want.col_absmax);
        QCOMPARE(got.moments.max, want.moments.max);
        QB_VERIFY_EMPTY(qbtest::take_validation_messages(*staged.device));
    }

    void encodes_a_tensor_larger_than_one_storage_binding() {
        const int64_t rows = 4096, cols = 11008;  // 180 MB of f32: more than lavapipe's 128 MiB binding
        std::vector<float> x(size_t(rows * cols));
        std::mt19937 rng(5);
        std::normal_distribution<float> gauss(0.0f, 0.02f);
        for (float& v : x) v = gauss(rng);
        const FormatInfo& f = format_by_name("q8_0");
        gpu::VulkanBackend device_sized_chunks(device_, {.chunk_bytes = 0});
        const std::vector<uint8_t> bytes = gpu_encode(f, x, rows, cols, device_sized_chunks);
        QCOMPARE(device_sized_chunks.last_timing().chunks, (uint64_t(rows * cols * 4) - 1) / device_->info().max_storage_buffer_range + 1);
        const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, nullptr, 0));
        QVERIFY2(diff.empty(), diff.c_str());
    }

    // One record for the whole tensor: the range (and the clipping search's errors) of every chunk are gathered
    // before any chunk is encoded. 180 MB of f32: more than lavapipe's 128 MiB binding.
    void encodes_a_per_tensor_grid_larger_than_one_storage_binding() {
        const int64_t rows = 4096, cols = 11008;
        std::vector<float> x(size_t(rows * cols));
        std::mt19937 rng(6);
        std::normal_distribution<float> gauss(0.0f, 0.02f);
        for (float& v : x) v = gauss(rng);
        x[size_t(rows * cols) - 5] = 0.5f;  // the tensor's extreme is in the last chunk
        gpu::VulkanBackend device_sized_chunks(device_, {.chunk_bytes = 0});
        for (const char* name : {"int8_pt_sym", "int4_pt_asym"}) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<uint8_t> bytes = gpu_encode(f, x, rows, cols, device_sized_chunks);
            QVERIFY(device_sized_chunks.last_timing().chunks >= 4);  // two passes of two chunks
            const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, nullptr, 0));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
        }
    }

    // Pieces of 1024 values (int_grid.inc's grid_tensor_piece), the last one of a row shorter, with codes
    // that end inside a byte: rows of 2500 and 77 values.
    void encodes_per_tensor_grids_over_pieces_of_long_rows() {
        for (const int64_t cols : {int64_t(2500), int64_t(77)}) {
            const int64_t rows = 9;
            const std::vector<float> x = rows_with_non_finite(rows, cols, 17);
            const std::vector<float> importance = column_importance(cols);
            for (const char* name : {"int3_pt_sym", "int5_pt_asym_clip", "int7_pt_sym_clip", "int8_pt_sym"}) {
                const FormatInfo& f = format_by_name(name);
                for (const float* weights : {(const float*)nullptr, importance.data()}) {
                    std::vector<uint8_t> bytes(f.tensor_bytes(rows, cols));
                    gpu_->encode(f, rows, cols, x.data(), bytes.data(), weights, nullptr);
                    const std::string where = std::string(name) + " x " + std::to_string(cols) + (weights ? " weighted" : "");
                    const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, weights));
                    QVERIFY2(diff.empty(), (where + ": " + diff).c_str());
                    const std::string float_diff = bit_difference(gpu_decode(f, bytes, rows, cols), decode_tensor(f, bytes, rows, cols));
                    QVERIFY2(float_diff.empty(), (where + ": " + float_diff).c_str());
                }
            }
        }
    }

    // Gaussian values: the search clips (its header differs from the full range's), on both sides alike,
    // with the pieces' errors gathered over several chunks.
    void searches_the_clipping_of_per_tensor_grids_like_the_cpu() {
        gpu::VulkanBackend small_chunks(device_, {.chunk_bytes = 64 * 1024});
        const int64_t rows = 40, cols = 3000;  // 480 KB of f32: 8 chunks of 5 rows
        std::vector<float> x(size_t(rows * cols));
        std::mt19937 rng(23);
        std::normal_distribution<float> gauss(0.0f, 0.02f);
        for (float& v : x) v = gauss(rng);
        const std::vector<float> importance = column_importance(cols);
        for (const char* name : {"int4_pt_asym_clip", "int3_pt_sym_clip", "int6_pt_sym_clip"}) {
            const FormatInfo& f = format_by_name(name);
            const std::string full_range = std::string(name).substr(0, std::string(name).size() - 5);
            const std::vector<uint8_t> unclipped = encode_tensor(format_by_name(full_range), x, rows, cols);
            for (const float* weights : {(const float*)nullptr, importance.data()}) {
                std::vector<uint8_t> bytes(f.tensor_bytes(rows, cols));
                small_chunks.encode(f, rows, cols, x.data(), bytes.data(), weights, nullptr);
                QVERIFY(small_chunks.last_timing().chunks >= 3 * 8);  // range, errors, codes
                const std::vector<uint8_t> want = encode_tensor(f, x, rows, cols, weights);
                QVERIFY2(!std::equal(want.begin(), want.begin() + f.header_bytes, unclipped.begin()), name);
                const std::string diff = byte_difference(bytes, want);
                QVERIFY2(diff.empty(), (std::string(name) + (weights ? " weighted: " : ": ") + diff).c_str());
            }
        }
    }

    // Per-channel grids over rows as long as Llama's (4096 and 11008 values), and groups longer than 1024
    // values: a unit's range, its clipping errors and its codes go over pieces of 1024 values (llvmpipe ends
    // an invocation's loops silently after 65535 iterations: one invocation per row would run 22 x 11008),
    // bytes equal to the CPU's.
    void encodes_per_channel_grids_of_long_rows_like_the_cpu() {
        std::string failures;
        for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{8, 4096}, {4, 11008}, {3, 2500}}) {
            const std::vector<float> x = rows_with_non_finite(rows, cols, 29);
            const std::vector<float> importance = column_importance(cols);
            for (const char* name : {"int4_pc_sym_clip", "int3_pc_asym_clip", "int8_pc_asym"}) {
                const FormatInfo& f = format_by_name(name);
                for (const float* weights : {(const float*)nullptr, importance.data()}) {
                    std::vector<uint8_t> bytes(f.tensor_bytes(rows, cols));
                    gpu_->encode(f, rows, cols, x.data(), bytes.data(), weights, nullptr);
                    const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, weights));
                    if (!diff.empty())
                        failures += std::string(name) + " x " + std::to_string(cols) + (weights ? " weighted: " : ": ") + diff + "; ";
                }
            }
        }
        // Groups longer than a piece, two to a row, in chunks of 3 groups (some starting inside a row).
        gpu::VulkanBackend small_chunks(device_, {.chunk_bytes = 3 * 2048 * sizeof(float)});
        const int64_t rows = 5, cols = 4096;
        const std::vector<float> x = rows_with_non_finite(rows, cols, 31);
        const std::vector<float> importance = column_importance(cols);
        for (const char* name : {"int5_g2048_asym_clip", "int4_pc_sym_clip"}) {
            const FormatInfo& f = format_by_name(name);
            for (const float* weights : {(const float*)nullptr, importance.data()}) {
                std::vector<uint8_t> bytes(f.tensor_bytes(rows, cols));
                small_chunks.encode(f, rows, cols, x.data(), bytes.data(), weights, nullptr);
                QVERIFY(small_chunks.last_timing().chunks >= 3 * 2);  // range, errors, codes
                const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, weights));
                if (!diff.empty()) failures += std::string(name) + (weights ? " weighted, chunked: " : ", chunked: ") + diff + "; ";
            }
        }
        QVERIFY2(failures.empty(), failures.c_str());
    }

    // Importance-weighted q4_0 / q5_1 weigh each value by the mean of x^2 over its row (row_mean_square.comp,
    // one invocation per row): rows as long as real models' ffn_down (Llama-3-70B 28,672, Nemotron-4-340B
    // 73,728) are past llvmpipe's 65,535 loop iterations per invocation unless the loop takes several values
    // per iteration. Bytes equal to the CPU's.
    void encodes_importance_weighted_blocks_of_long_rows_like_the_cpu() {
        std::string failures;
        const int64_t rows = 3;
        for (const int64_t cols : {28672, 73728}) {
            const std::vector<float> x = awkward_rows(rows, cols, 37);
            const std::vector<float> importance = column_importance(cols);
            for (const char* name : {"q4_0", "q5_1"}) {
                const FormatInfo& f = format_by_name(name);
                std::vector<uint8_t> bytes(f.tensor_bytes(rows, cols));
                gpu_->encode(f, rows, cols, x.data(), bytes.data(), importance.data(), nullptr);
                const std::string diff = byte_difference(bytes, encode_tensor(f, x, rows, cols, importance.data()));
                if (!diff.empty()) failures += std::string(name) + " x " + std::to_string(cols) + ": " + diff + "; ";
            }
        }
        QVERIFY2(failures.empty(), failures.c_str());
    }

    void hands_formats_without_kernels_to_the_cpu() {
        const FormatInfo& f = format_by_name("f64");
        QVERIFY(!gpu_->accelerates_encode(f, false));
        QVERIFY(!gpu_->accelerates_decode(f));
        const std::vector<float> x = awkward_rows(8, 256, 1);
        std::vector<uint8_t> bytes(f.tensor_bytes(8, 256));
        gpu_->encode(f, 8, 256, x.data(), bytes.data(), nullptr, nullptr);
        const std::string diff = byte_difference(bytes, encode_tensor(f, x, 8, 256));
        QVERIFY2(diff.empty(), diff.c_str());
        const std::string float_diff = bit_difference(gpu_decode(f, bytes, 8, 256), decode_tensor(f, bytes, 8, 256));
        QVERIFY2(float_diff.empty(), float_diff.c_str());
    }

    void encodes_with_an_importance_vector_like_the_cpu_data() {
        add_format_rows({std::begin(kLlamaWeightedFormats), std::end(kLlamaWeightedFormats)});
    }
    void encodes_with_an_importance_vector_like_the_cpu() {
        QFETCH(QString, format);
        gpu::VulkanBackend small_chunks(device_, {.chunk_bytes = 64 * 1024});  // weighted legacy chunks: 16 rows
        const int64_t rows = 60, cols = 1024;
        const std::vector<float> x = awkward_rows(rows, cols, 13);
        const std::vector<float> importance = column_importance(cols);
        {
            const std::string name = format.toStdString();
            const FormatInfo& f = format_by_name(name);
            QVERIFY2(gpu_->accelerates_encode(f, true), name.c_str());
            std::vector<uint8_t> got(f.tensor_bytes(rows, cols));
            small_chunks.encode(f, rows, cols, x.data(), got.data(), importance.data(), nullptr);
            const std::string diff = byte_difference(got, encode_tensor(f, x, rows, cols, importance.data()));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
        }
    }

    void weighs_the_clipping_search_by_importance_like_the_cpu() {
        const int64_t rows = 24, cols = 384;
        const std::vector<float> x = rows_with_non_finite(rows, cols, 12);
        const std::vector<float> importance = column_importance(cols);
        for (const char* name : {"int3_g64_sym_clip", "int4_g128_asym_clip", "int4_pc_sym_clip", "int4_pt_asym_clip", "nf4"}) {
            const FormatInfo& f = format_by_name(name);
            QVERIFY2(gpu_->accelerates_encode(f, true), name);
            std::vector<uint8_t> got(f.tensor_bytes(rows, cols));
            gpu_->encode(f, rows, cols, x.data(), got.data(), importance.data(), nullptr);
            const std::string diff = byte_difference(got, encode_tensor(f, x, rows, cols, importance.data()));
            QVERIFY2(diff.empty(), (std::string(name) + ": " + diff).c_str());
        }
    }

    void rejects_rows_that_are_not_whole_blocks() {
        const std::vector<float> x(2 * 48, 1.0f);
        std::vector<uint8_t> out(256);
        QVERIFY_THROWS_EXCEPTION(qb::Error, gpu_->encode(format_by_name("q8_0"), 2, 48, x.data(), out.data(), nullptr, nullptr));
    }
};

QTEST_GUILESS_MAIN(GpuCodecsTest)
#include "tst_gpu_codecs.moc"
