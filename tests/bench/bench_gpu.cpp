// Throughput of the Vulkan kernels beside the CPU in the same run.
//   bench_gpu [codecs|matmul|all] [ROWS COLS | TOKENS]
// codecs: encoders, decoders and statistics on a 4096 x 11008 f32 matrix (a Llama-7B FFN projection;
// ROWS COLS for another shape). GB/s counts the f32 side of each kernel (encode input, decode output,
// statistics input). Per kernel:
//   cpu      the CPU backend on all threads,
//   vulkan   a whole backend call: host copies into mapped memory, uploads, kernels, downloads,
//   kernel   the kernels alone, from GPU timestamps (sum over chunks),
// with the time in device copies and host copies of the Vulkan call, and whether the outputs are
// identical (bytes; statistics: counts, extremes and histogram). Times are the best of 5 runs.
// matmul: prompt processing, 512 tokens (TOKENS for another count) x 4096 inputs times weights of 4096
// and 11008 outputs per format, GFLOP/s (2·tokens·inputs·outputs per product) of the CPU SGEMM on the decoded weights
// (core/infer/matmul.h, pre-packed, all threads) beside DeviceMatrix::multiply (whole call, and kernels
// alone); generation (1 token) as GB/s of weight bytes; and the Hessian XᵀX of 512 tokens x 4096 as
// GFLOP/s of the upper triangle, CPU accumulator beside the device's. Best of 3 runs (1 on a software
// device: lavapipe needs minutes for the full set).
// The device is open_default_device()'s (QB_VULKAN_DEVICE=<index|name> picks another).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/analysis/hessian.h"
#include "core/backend/backend.h"
#include "core/infer/matmul.h"
#include "core/quant/format.h"
#include "gpu/hessian_kernel.h"
#include "gpu/matmul_kernels.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/bench/support.h"

namespace {

constexpr int kRuns = 5;
const char* const kFormats[] = {"f16",  "bf16", "fp8_e4m3", "q8_0",   "q4_0",   "q4_1",  "q5_0",
                                "q2_k", "q3_k", "q4_k",     "q5_k",   "q6_k",   "iq4_nl", "iq4_xs",
                                "nf4",  "mxfp4", "mxint8",  "int4_g128_asym", "int4_pc_sym", "int8_pt_sym",
                                "int4_pt_asym"};
// Encoded again with an importance vector (llama-quantize's imatrix searches; the grid's clipping search).
const char* const kWeightedFormats[] = {"q4_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs",
                                        "int4_g128_asym_clip", "int4_pt_asym_clip"};
const char* const kMatmulFormats[] = {"f16", "q8_0", "q4_0", "q4_k", "int4_g128_asym"};

struct Shape {
    int64_t rows = 4096;
    int64_t cols = 11008;
    double f32_gigabytes() const { return double(rows * cols) * 4e-9; }
};

// Irwin-Hall (sum of 4 uniforms) weights of σ ≈ 0.02 with sparse outliers, like bench_stats.
std::vector<float> synthetic_weights(const Shape& shape) {
    std::vector<float> w(size_t(shape.rows * shape.cols));
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto uniform = [&] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return double(state >> 11) * 0x1p-53;
    };
    for (float& x : w) x = float(0.035 * (uniform() + uniform() + uniform() + uniform() - 2.0));
    for (size_t i = 0; i < w.size(); i += 100003) w[i] = float(2 * (uniform() - 0.5));
    return w;
}

double best_seconds(const std::function<void()>& fn) {
    double best = 1e30;
    for (int i = 0; i < kRuns; ++i) {
        const double start = qbbench::seconds_now();
        fn();
        best = std::min(best, qbbench::seconds_now() - start);
    }
    return best;
}

struct Row {
    std::string kernel;
    double cpu_s = 0;
    double vulkan_s = 0;
    qb::gpu::StreamTiming timing{};  // of the best Vulkan run
    bool identical = false;
};

void print_row(const Row& r, const Shape& shape) {
    const double gb = shape.f32_gigabytes();
    std::printf("%-20s %9.3f %9.3f %9.3f %12.3f %11.3f %10s\n", r.kernel.c_str(), gb / r.cpu_s, gb / r.vulkan_s,
                r.timing.kernel_s > 0 ? gb / r.timing.kernel_s : 0.0, r.timing.device_copy_s, r.timing.host_copy_s,
                r.identical ? "yes" : "NO");
}

// Runs the Vulkan call kRuns times and keeps the timing of the fastest.
double time_vulkan(qb::gpu::VulkanBackend& gpu, const std::function<void()>& fn, qb::gpu::StreamTiming& timing) {
    double best = 1e30;
    for (int i = 0; i < kRuns; ++i) {
        const double start = qbbench::seconds_now();
        fn();
        const double s = qbbench::seconds_now() - start;
        if (s < best) {
            best = s;
            timing = gpu.last_timing();
        }
    }
    return best;
}

// importance: per-column weights (the kernel is then "encode <format> +imp"), or nullptr.
Row bench_encode(const qb::FormatInfo& f, const Shape& shape, const std::vector<float>& w, qb::Backend& cpu,
                 qb::gpu::VulkanBackend& gpu, const float* importance = nullptr) {
    std::vector<uint8_t> want(f.tensor_bytes(shape.rows, shape.cols)), got(want.size());
    Row r{.kernel = "encode " + f.name + (importance ? " +imp" : "")};
    qb::Backend& vulkan = gpu;
    r.cpu_s = best_seconds([&] { cpu.encode(f, shape.rows, shape.cols, w.data(), want.data(), importance); });
    r.vulkan_s = time_vulkan(gpu, [&] { vulkan.encode(f, shape.rows, shape.cols, w.data(), got.data(), importance); },
                             r.timing);
    r.identical = got == want;
    if (!gpu.accelerates_encode(f, importance != nullptr)) {  // the CPU ran it: no kernel time
        r.kernel += " (cpu)";
        r.timing = {};
    }
    return r;
}

Row bench_decode(const qb::FormatInfo& f, const Shape& shape, const std::vector<float>& w, qb::Backend& cpu,
                 qb::gpu::VulkanBackend& gpu) {
    const std::vector<uint8_t> bytes = qb::encode_tensor(f, w, shape.rows, shape.cols, nullptr, 0);
    std::vector<float> want(w.size()), got(w.size());
    Row r{.kernel = "decode " + f.name};
    qb::Backend& vulkan = gpu;
    r.cpu_s = best_seconds([&] { cpu.decode(f, shape.rows, shape.cols, bytes.data(), want.data()); });
    r.vulkan_s = time_vulkan(gpu, [&] { vulkan.decode(f, shape.rows, shape.cols, bytes.data(), got.data()); }, r.timing);
    r.identical = std::equal(got.begin(), got.end(), want.begin(), [](float a, float b) { return std::memcmp(&a, &b, 4) == 0; });
    return r;
}

Row bench_statistics(const Shape& shape, const std::vector<float>& w, qb::Backend& cpu, qb::gpu::VulkanBackend& gpu) {
    const qb::StatsRequest request{.bins = 256, .lo = -0.1, .hi = 0.1, .row_absmax = true, .col_absmax = true};
    qb::TensorStats want, got;
    Row r{.kernel = "statistics"};
    r.cpu_s = best_seconds([&] { want = cpu.statistics(w.data(), shape.rows, shape.cols, request); });
    r.vulkan_s = time_vulkan(gpu, [&] { got = gpu.statistics(w.data(), shape.rows, shape.cols, request, nullptr); }, r.timing);
    r.identical = got.moments.count == want.moments.count && got.moments.min == want.moments.min &&
                  got.moments.max == want.moments.max && got.histogram.counts == want.histogram.counts &&
                  got.row_absmax == want.row_absmax && got.col_absmax == want.col_absmax;
    return r;
}

// ---- matmul ------------------------------------------------------------------------------------------

int matmul_runs = 3;

double best_of(int runs, const std::function<double()>& seconds) {
    double best = 1e30;
    for (int i = 0; i < runs; ++i) best = std::min(best, seconds());
    return best;
}

double timed(const std::function<void()>& fn) {
    const double start = qbbench::seconds_now();
    fn();
    return qbbench::seconds_now() - start;
}

// Largest |gpu - cpu| over the outputs, relative to the largest |cpu|.
double relative_difference(const std::vector<float>& got, const std::vector<float>& want) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, double(std::fabs(got[i] - want[i])));
        scale = std::max(scale, double(std::fabs(want[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

void bench_product(const qb::FormatInfo& f, int64_t tokens, int64_t outputs, int64_t inputs, qb::gpu::Device& device) {
    const std::vector<float> w = synthetic_weights({outputs, inputs});
    const std::vector<uint8_t> bytes = qb::encode_tensor(f, w, outputs, inputs, nullptr, 0);
    const qb::PackedMatrix packed({qb::decode_tensor(f, bytes, outputs, inputs, 0).data(), outputs, inputs, inputs}, 0);
    const qb::gpu::DeviceMatrix matrix(device, f, outputs, inputs, bytes.data());
    const std::vector<float> a = synthetic_weights({tokens, inputs});
    std::vector<float> want(size_t(tokens * outputs)), got(want.size());
    const double cpu_s = best_of(matmul_runs, [&] {
        return timed([&] { qb::matmul_nt({a.data(), tokens, inputs, inputs}, packed, {want.data(), tokens, outputs, outputs}, 0); });
    });
    double kernel_s = 1e30;
    const double gpu_s = best_of(matmul_runs, [&] {
        const qb::gpu::StreamTiming t = matrix.multiply(a.data(), tokens, got.data());
        kernel_s = std::min(kernel_s, t.kernel_s);
        return t.wall_s;
    });
    const double flop = 2.0 * double(tokens) * double(outputs) * double(inputs) * 1e-9;
    const double weight_gb = double(bytes.size()) * 1e-9;
    const std::string shape = std::to_string(tokens) + "x" + std::to_string(inputs) + "x" + std::to_string(outputs);
    if (tokens == 1)
        std::printf("%-16s %-16s %9.2f %9.2f %9.2f GB/s of weights  rel diff %.1e\n", f.name.c_str(), shape.c_str(),
                    weight_gb / cpu_s, weight_gb / gpu_s, kernel_s > 0 ? weight_gb / kernel_s : 0.0, relative_difference(got, want));
    else
        std::printf("%-16s %-16s %9.1f %9.1f %9.1f GFLOP/s  rel diff %.1e\n", f.name.c_str(), shape.c_str(), flop / cpu_s,
                    flop / gpu_s, kernel_s > 0 ? flop / kernel_s : 0.0, relative_difference(got, want));
}

void bench_hessian(int64_t tokens, int64_t dim, qb::gpu::Device& device) {
    const std::vector<float> x = synthetic_weights({tokens, dim});
    const double cpu_s = best_of(matmul_runs, [&] {
        qb::HessianAccumulator cpu(dim);
        return timed([&] { cpu.add(x.data(), tokens, 0); });
    });
    double kernel_s = 1e30;
    const double gpu_s = best_of(matmul_runs, [&] {
        qb::gpu::DeviceHessian gpu(device, dim);
        const qb::gpu::StreamTiming t = gpu.add(x.data(), tokens);
        kernel_s = std::min(kernel_s, t.kernel_s);
        return t.wall_s;
    });
    const double flop = double(tokens) * double(dim) * double(dim + 1) * 1e-9;  // upper triangle, 2 flop per term
    std::printf("%-16s %-16s %9.1f %9.1f %9.1f GFLOP/s\n", "hessian XtX", (std::to_string(tokens) + "x" + std::to_string(dim)).c_str(),
                flop / cpu_s, flop / gpu_s, kernel_s > 0 ? flop / kernel_s : 0.0);
}

void bench_matmul(qb::gpu::Device& device, int64_t tokens) {
    if (device.info().type == qb::gpu::DeviceType::Cpu) matmul_runs = 1;
    std::printf("%-16s %-16s %9s %9s %9s\n", "weights", "tokens x in x out", "cpu", "vulkan", "kernel");
    for (const char* name : kMatmulFormats)
        for (int64_t outputs : {4096, 11008}) bench_product(qb::format_by_name(name), tokens, outputs, 4096, device);
    for (const char* name : kMatmulFormats) bench_product(qb::format_by_name(name), 1, 11008, 4096, device);
    if (qb::gpu::can_accumulate_hessian_on(device, 4096)) bench_hessian(tokens, 4096, device);
}

void bench_codecs(const Shape& shape, qb::gpu::VulkanBackend& gpu, qb::Backend& cpu) {
    const std::vector<float> w = synthetic_weights(shape);
    std::printf("%-20s %9s %9s %9s %12s %11s %10s\n", "kernel", "cpu GB/s", "vk GB/s", "kern GB/s", "dev copy s",
                "host copy s", "identical");
    std::vector<float> importance(size_t(shape.cols));
    for (int64_t c = 0; c < shape.cols; ++c) importance[size_t(c)] = 0.05f + float((c * 7919) % 97) * 0.1f;
    for (const char* name : kFormats) print_row(bench_encode(qb::format_by_name(name), shape, w, cpu, gpu), shape);
    for (const char* name : kWeightedFormats)
        print_row(bench_encode(qb::format_by_name(name), shape, w, cpu, gpu, importance.data()), shape);
    for (const char* name : kFormats) print_row(bench_decode(qb::format_by_name(name), shape, w, cpu, gpu), shape);
    print_row(bench_statistics(shape, w, cpu, gpu), shape);
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they finish
    const std::string section = argc > 1 ? argv[1] : "all";
    Shape shape;
    int64_t tokens = 512;
    if (argc == 4) shape = {std::atoll(argv[2]), std::atoll(argv[3])};
    if (argc == 3) tokens = std::atoll(argv[2]);
    if ((section != "codecs" && section != "matmul" && section != "all") || argc > 4 || tokens < 1) {
        std::printf("usage: bench_gpu [codecs|matmul|all] [ROWS COLS | TOKENS]\n");
        return 2;
    }
    qbbench::print_header("Vulkan kernels vs CPU");
    qb::gpu::DeviceStatus status = qb::gpu::open_default_device();
    if (!status.available()) {
        std::printf("no Vulkan device: %s\n", status.reason.c_str());
        return 1;
    }
    qb::gpu::VulkanBackend gpu(status.device);
    std::unique_ptr<qb::Backend> cpu = qb::make_cpu_backend();
    std::printf("device: %s\ncpu:    %s\n", gpu.description().c_str(), cpu->description().c_str());
    if (section != "matmul") {
        std::printf("\ncodecs on %lld x %lld f32\n", (long long)shape.rows, (long long)shape.cols);
        bench_codecs(shape, gpu, *cpu);
    }
    if (section != "codecs") {
        std::printf("\nmatmul\n");
        bench_matmul(*status.device, tokens);
    }
    std::printf("peak RSS %.0f MiB\n", double(qbbench::peak_rss_bytes()) / double(1 << 20));
    return 0;
}
