// Dequantize-multiply (gemm.comp, gemv.comp) against the CPU's SGEMM on the decoded weights, and the
// Hessian XᵀX (xtx.comp) against a double reference and the CPU accumulator, on the default Vulkan
// device with the validation layer on: every test also fails on any validation message.
#include <QtTest>

#include <cmath>
#include <random>

#include "core/analysis/hessian.h"
#include "core/infer/matmul.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "gpu/hessian_kernel.h"
#include "gpu/matmul_kernels.h"
#include "gpu/vk_device.h"
#include "tests/support/vulkan_validation.h"

using namespace qb;

namespace {

std::vector<float> gaussian(int64_t count, float sigma, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(0.0f, sigma);
    std::vector<float> x(static_cast<size_t>(count));
    for (float& v : x) v = gauss(rng);
    return x;
}

// Outputs outside |got - want| <= tolerance(cols) * Σ_k |a_k w_k| (the bound of gpu/matmul_kernels.h).
std::string product_difference(const std::vector<float>& got, const std::vector<float>& a, const std::vector<float>& w,
                               int64_t tokens, int64_t rows, int64_t cols) {
    std::vector<float> want(size_t(tokens * rows));
    matmul_nt({a.data(), tokens, cols, cols}, {w.data(), rows, cols, cols}, {want.data(), tokens, rows, rows}, 1);
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            double magnitude = 0;
            for (int64_t k = 0; k < cols; ++k) magnitude += std::fabs(double(a[size_t(t * cols + k)]) * w[size_t(r * cols + k)]);
            const double diff = std::fabs(double(got[size_t(t * rows + r)]) - want[size_t(t * rows + r)]);
            if (!(diff <= gpu::matmul_tolerance(cols) * magnitude))
                return "token " + std::to_string(t) + " output " + std::to_string(r) + ": " + std::to_string(got[size_t(t * rows + r)]) +
                       " vs " + std::to_string(want[size_t(t * rows + r)]) + " (bound " +
                       std::to_string(gpu::matmul_tolerance(cols) * magnitude) + ")";
        }
    return {};
}

}  // namespace

class GpuMatmulTest : public QObject {
    Q_OBJECT

    std::shared_ptr<gpu::Device> device_;

    // c = a · decode(W)ᵀ on the device, W encoded from `weights` by the CPU registry.
    std::vector<float> gpu_product(const FormatInfo& f, const std::vector<float>& weights, int64_t rows, int64_t cols,
                                   const std::vector<float>& a, int64_t tokens, VkDeviceSize slab_budget = 0) {
        const std::vector<uint8_t> bytes = encode_tensor(f, weights, rows, cols);
        const gpu::DeviceMatrix matrix(*device_, f, rows, cols, bytes.data(), slab_budget);
        std::vector<float> c(size_t(tokens * rows));
        matrix.multiply(a.data(), tokens, c.data());
        return c;
    }

private slots:
    void initTestCase() { QB_VERIFY_EMPTY(qbtest::open_validated_device(device_)); }
    void cleanup() { QB_VERIFY_EMPTY(qbtest::take_validation_messages(*device_)); }

    void multiplies_decoded_weights_like_the_cpu_sgemm() {
        const int64_t rows = 70, cols = 512;  // partial 64-wide tiles of outputs
        const std::vector<float> w = gaussian(rows * cols, 0.02f, 1);
        for (const char* name : {"f32", "f16", "bf16", "q8_0", "q4_0", "q5_1", "q4_k", "q6_k", "iq4_xs", "nf4", "mxfp4",
                                 "int4_g128_asym", "int8_pc_sym"}) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<float> decoded = decode_tensor(f, encode_tensor(f, w, rows, cols), rows, cols);
            for (int64_t tokens : {3, 37}) {  // gemv.comp, then gemm.comp with a partial tile of tokens
                const std::vector<float> a = gaussian(tokens * cols, 1.0f, 2);
                const std::string diff = product_difference(gpu_product(f, w, rows, cols, a, tokens), a, decoded, tokens, rows, cols);
                QVERIFY2(diff.empty(), (std::string(name) + ", " + std::to_string(tokens) + " tokens: " + diff).c_str());
            }
        }
    }

    // A = I picks each decoded weight alone: the tiles read every value exactly as the CPU decodes it.
    void reads_every_weight_exactly_through_an_identity_product() {
        const int64_t rows = 40, cols = 320;
        const std::vector<float> w = gaussian(rows * cols, 0.5f, 3);
        std::vector<float> identity(size_t(cols * cols), 0.0f);
        for (int64_t k = 0; k < cols; ++k) identity[size_t(k * cols + k)] = 1.0f;
        for (const char* name : {"q5_1", "int3_g5_asym", "int4_pc_asym", "mxint8", "fp8_e4m3"}) {
            const FormatInfo& f = format_by_name(name);
            const std::vector<float> decoded = decode_tensor(f, encode_tensor(f, w, rows, cols), rows, cols);
            const std::vector<float> c = gpu_product(f, w, rows, cols, identity, cols);
            for (int64_t t = 0; t < cols; ++t)
                for (int64_t r = 0; r < rows; ++r)
                    QCOMPARE(c[size_t(t * rows + r)], decoded[size_t(r * cols + t)]);
        }
    }

    // llvmpipe (lavapipe) silently ends every loop of an invocation after 65,535 iterations in all: the
    // depths of real models (Llama-3-8B's ffn_down 14,336, 70B's 28,672, Llama-3.1-405B's 53,248,
    // Nemotron-4-340B's 73,728) must still sum every term. Weights and activations are >= 0 here, so a
    // sum that lost even 1% of its terms is far outside the bound (2 x d_in x 2^-24 of Σ|a w|: 0.34% at
    // 28,672). Before gemm.comp took d_in in dispatches of 16,384, 57,344 summed only its first ~31,400.
    void multiplies_llama_depths_within_the_loop_budget() {
        const int64_t rows = 16;
        for (const int64_t cols : {14336, 28672, 73728})
            for (const char* name : {"f16", "q4_k"}) {
                const FormatInfo& f = format_by_name(name);
                std::vector<float> w = gaussian(rows * cols, 0.02f, 7);
                for (float& v : w) v = std::fabs(v);
                const std::vector<float> decoded = decode_tensor(f, encode_tensor(f, w, rows, cols), rows, cols);
                for (int64_t tokens : {3, 70}) {  // gemv.comp, then gemm.comp with a partial tile of tokens
                    std::vector<float> a = gaussian(tokens * cols, 1.0f, 8);
                    for (float& v : a) v = std::fabs(v);
                    const std::string diff = product_difference(gpu_product(f, w, rows, cols, a, tokens), a, decoded, tokens, rows, cols);
                    QVERIFY2(diff.empty(), (std::string(name) + ", d_in " + std::to_string(cols) + ", " + std::to_string(tokens) +
                                            " tokens: " + diff)
                                               .c_str());
                }
            }
    }

    void splits_weights_and_tokens_into_slabs_of_one_binding() {
        const int64_t rows = 300, cols = 256, tokens = 90;
        const FormatInfo& f = format_by_name("q4_0");
        const std::vector<float> w = gaussian(rows * cols, 0.02f, 4);
        const std::vector<float> a = gaussian(tokens * cols, 1.0f, 5);
        const std::vector<float> decoded = decode_tensor(f, encode_tensor(f, w, rows, cols), rows, cols);
        // 32 KiB buffers: two slabs of weights, four of tokens
        const std::vector<float> c = gpu_product(f, w, rows, cols, a, tokens, 32 * 1024);
        const std::string diff = product_difference(c, a, decoded, tokens, rows, cols);
        QVERIFY2(diff.empty(), diff.c_str());
        QCOMPARE(c, gpu_product(f, w, rows, cols, a, tokens));
    }

    void rejects_formats_the_shaders_cannot_read() {
        const std::vector<uint8_t> bytes(64 * 1024);
        QVERIFY_THROWS_EXCEPTION(qb::Error, gpu::DeviceMatrix(*device_, format_by_name("int4_pt_sym"), 4, 256, bytes.data()));
    }

    void accumulates_xtx_like_a_double_reference_and_the_cpu() {
        const int64_t dim = 200, tokens = 700;  // two blocks of tokens, partial 64-wide tiles
        const std::vector<float> x = gaussian(tokens * dim, 1.0f, 6);
        gpu::DeviceHessian gpu(*device_, dim, 64 * 1024);  // 40 rows of sums per slab
        gpu.add(x.data(), 300);
        gpu.add(x.data() + 300 * dim, tokens - 300);
        const HessianMatrix got = std::move(gpu).finish();
        HessianAccumulator cpu(dim);
        cpu.add(x.data(), tokens, 1);
        const HessianMatrix want = std::move(cpu).finish();
        QCOMPARE(got.tokens, tokens);
        const double bound = double(HessianAccumulator::kTokensPerProduct) * 0x1p-24;
        for (int64_t i = 0; i < dim; ++i)
            for (int64_t j = 0; j < dim; ++j) {
                double exact = 0, magnitude = 0;
                for (int64_t t = 0; t < tokens; ++t) {
                    const double p = double(x[size_t(t * dim + i)]) * double(x[size_t(t * dim + j)]);
                    exact += p;
                    magnitude += std::fabs(p);
                }
                exact /= double(tokens);
                magnitude /= double(tokens);
                QVERIFY2(std::fabs(got.at(i, j) - exact) <= bound * magnitude, qPrintable(QString("H[%1][%2]").arg(i).arg(j)));
                QVERIFY(std::fabs(got.at(i, j) - want.at(i, j)) <= 2 * bound * magnitude);
                QCOMPARE(got.at(i, j), got.at(j, i));
            }
    }
};

QTEST_GUILESS_MAIN(GpuMatmulTest)
#include "tst_gpu_matmul.moc"
