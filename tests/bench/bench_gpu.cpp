// Throughput of the Vulkan kernels beside the CPU backend in the same run, on a 4096 x 11008 f32 matrix
// (a Llama-7B FFN projection; `bench_gpu ROWS COLS` for another shape). GB/s counts the f32 side of each
// kernel (encode input, decode output, statistics input). Per kernel:
//   cpu      the CPU backend on all threads,
//   vulkan   a whole backend call: host copies into mapped memory, uploads, kernels, downloads,
//   kernel   the kernels alone, from GPU timestamps (sum over chunks),
// with the time in device copies and host copies of the Vulkan call, and whether the outputs are
// identical (bytes; statistics: counts, extremes and histogram). Times are the best of 5 runs.
// The device is open_default_device()'s (QB_VULKAN_DEVICE=<index|name> picks another).
#include <algorithm>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/backend/backend.h"
#include "core/quant/format.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"
#include "tests/bench/support.h"

namespace {

constexpr int kRuns = 5;
const char* const kFormats[] = {"f16", "bf16", "fp8_e4m3", "q8_0", "q4_0", "int4_g128_asym"};

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
    std::printf("%-20s %9.2f %9.2f %9.2f %12.3f %11.3f %10s\n", r.kernel.c_str(), gb / r.cpu_s, gb / r.vulkan_s,
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

Row bench_encode(const qb::FormatInfo& f, const Shape& shape, const std::vector<float>& w, qb::Backend& cpu,
                 qb::gpu::VulkanBackend& gpu) {
    std::vector<uint8_t> want(f.tensor_bytes(shape.rows, shape.cols)), got(want.size());
    Row r{.kernel = "encode " + f.name};
    qb::Backend& vulkan = gpu;
    r.cpu_s = best_seconds([&] { cpu.encode(f, shape.rows, shape.cols, w.data(), want.data()); });
    r.vulkan_s = time_vulkan(gpu, [&] { vulkan.encode(f, shape.rows, shape.cols, w.data(), got.data()); }, r.timing);
    r.identical = got == want;
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

}  // namespace

int main(int argc, char** argv) {
    Shape shape;
    if (argc == 3) shape = {std::atoll(argv[1]), std::atoll(argv[2])};
    qbbench::print_header("Vulkan kernels vs CPU backend, " + std::to_string(shape.rows) + " x " + std::to_string(shape.cols) + " f32");
    qb::gpu::DeviceStatus status = qb::gpu::open_default_device();
    if (!status.available()) {
        std::printf("no Vulkan device: %s\n", status.reason.c_str());
        return 1;
    }
    qb::gpu::VulkanBackend gpu(status.device);
    std::unique_ptr<qb::Backend> cpu = qb::make_cpu_backend();
    std::printf("device: %s\ncpu:    %s\n", gpu.description().c_str(), cpu->description().c_str());
    const std::vector<float> w = synthetic_weights(shape);

    std::printf("%-20s %9s %9s %9s %12s %11s %10s\n", "kernel", "cpu GB/s", "vk GB/s", "kern GB/s", "dev copy s",
                "host copy s", "identical");
    for (const char* name : kFormats) print_row(bench_encode(qb::format_by_name(name), shape, w, *cpu, gpu), shape);
    for (const char* name : kFormats) print_row(bench_decode(qb::format_by_name(name), shape, w, *cpu, gpu), shape);
    print_row(bench_statistics(shape, w, *cpu, gpu), shape);
    std::printf("peak RSS %.0f MiB\n", double(qbbench::peak_rss_bytes()) / double(1 << 20));
    return 0;
}
