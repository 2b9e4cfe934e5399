// GPTQ throughput per layer of Llama-2-7B's shapes (q/k/v/o 4096x4096, gate/up 11008x4096, down
// 4096x11008; int4 g128 sym, random weights, a correlated Hessian H_ij = σ_i σ_j 0.9^|i-j|) with all
// threads, on the CPU and with the block updates on the Vulkan device (gpu/gptq_kernel.h) in the same run:
// wall time of the factorisation (U from H, always the CPU) and of the sweep, GFLOP/s of each (the sweep's
// rate counts only the lazy block updates, rows·Σ 2·B·tail flops, so it is a lower bound), the bytes that
// differ from the CPU's, peak memory; and a naive single-thread textbook implementation (scalar loops,
// unbatched column updates) on a 1024x1024 layer beside ours on the same layer. CPU time beside wall time
// shows how much of the machine the run had (on lavapipe the "device" is these same cores).
// Usage: bench_gptq [--threads N] [--small-only] [--devices cpu,vulkan] [--shapes attn_q,ffn_up,ffn_down]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "core/algo/algorithm.h"
#include "core/algo/code_grid.h"
#include "core/backend/backend.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "gpu/vulkan_backend.h"
#include "tests/bench/support.h"
#include "tests/support/random_layer.h"

using namespace qb;

namespace {

constexpr double kRho = 0.9;
constexpr const char* kFormat = "int4_g128_sym";
constexpr int64_t kBlock = 128;

struct Config {
    int threads = 0;
    bool small_only = false;
    std::string devices = "cpu,vulkan";
    std::string shapes = "attn_q,ffn_up,ffn_down";
};

bool listed(const std::string& list, const std::string& name) {
    return ("," + list + ",").find("," + name + ",") != std::string::npos;
}

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--threads" && i + 1 < argc)
            c.threads = std::atoi(argv[++i]);
        else if (arg == "--small-only")
            c.small_only = true;
        else if (arg == "--devices" && i + 1 < argc)
            c.devices = argv[++i];
        else if (arg == "--shapes" && i + 1 < argc)
            c.shapes = argv[++i];
        else
            throw Error("usage", "bench_gptq [--threads N] [--small-only] [--devices cpu,vulkan] [--shapes attn_q,ffn_up,ffn_down]");
    }
    if (c.threads <= 0) c.threads = hardware_threads();
    return c;
}

struct Layer {
    int64_t rows, cols;
    std::vector<float> weight;
    std::vector<double> hessian;
    Layer(int64_t r, int64_t c)
        : rows(r), cols(c), weight(qbtest::random_weights(r, c, 7)), hessian(qbtest::ar1_hessian(c, kRho, 8)) {}
};

QuantizeResult run_gptq(const Layer& l, int threads, Backend* backend = nullptr) {
    QuantizeRequest r;
    r.weight = l.weight.data();
    r.rows = l.rows;
    r.cols = l.cols;
    r.format = &format_by_name(kFormat);
    r.hessian = l.hessian;
    r.measure_hessian_error = false;
    r.threads = threads;
    r.backend = backend;
    return quantize_matrix("gptq", r);
}

double lazy_update_flops(int64_t rows, int64_t n) {
    double flops = 0;
    for (int64_t i2 = kBlock; i2 < n; i2 += kBlock) flops += 2.0 * double(rows) * double(kBlock) * double(n - i2);
    return flops;
}

double factor_flops(int64_t n) { return 2.0 / 3.0 * double(n) * double(n) * double(n); }

// ---------------------------------------------------------------------------------------------------
// Textbook GPTQ: H⁻¹ by Cholesky and cholesky_inverse, its upper Cholesky factor, then each column's
// error applied at once to the rest of its row. One thread, plain loops.

std::vector<double> naive_cholesky_lower(std::vector<double> a, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t k = 0; k < j; ++k) a[size_t(j * n + j)] -= a[size_t(j * n + k)] * a[size_t(j * n + k)];
        a[size_t(j * n + j)] = std::sqrt(a[size_t(j * n + j)]);
        for (int64_t i = j + 1; i < n; ++i) {
            for (int64_t k = 0; k < j; ++k) a[size_t(i * n + j)] -= a[size_t(i * n + k)] * a[size_t(j * n + k)];
            a[size_t(i * n + j)] /= a[size_t(j * n + j)];
        }
        for (int64_t k = j + 1; k < n; ++k) a[size_t(j * n + k)] = 0;
    }
    return a;
}

std::vector<double> naive_inverse_factor(const std::vector<double>& h, int64_t n) {
    const std::vector<double> l = naive_cholesky_lower(h, n);
    std::vector<double> l_inv(size_t(n * n), 0.0), h_inv(size_t(n * n), 0.0);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t i = j; i < n; ++i) {
            double s = i == j ? 1.0 : 0.0;
            for (int64_t k = j; k < i; ++k) s -= l[size_t(i * n + k)] * l_inv[size_t(k * n + j)];
            l_inv[size_t(i * n + j)] = s / l[size_t(i * n + i)];
        }
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            for (int64_t k = std::max(i, j); k < n; ++k)
                h_inv[size_t(i * n + j)] += l_inv[size_t(k * n + i)] * l_inv[size_t(k * n + j)];
    const std::vector<double> lower = naive_cholesky_lower(h_inv, n);
    std::vector<double> upper(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) upper[size_t(i * n + j)] = lower[size_t(j * n + i)];
    return upper;
}

void naive_gptq(const Layer& layer) {
    const int64_t n = layer.cols;
    std::vector<double> h = layer.hessian;
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += h[size_t(i * n + i)] / double(n);
    for (int64_t i = 0; i < n; ++i) h[size_t(i * n + i)] += 0.01 * mean;
    const std::vector<double> u = naive_inverse_factor(h, n);
    const auto grid = CodeGrid::for_format(format_by_name(kFormat));
    const int64_t unit = grid->unit_values(n);
    for (int64_t r = 0; r < layer.rows; ++r) {
        std::vector<float> w(layer.weight.begin() + r * n, layer.weight.begin() + (r + 1) * n);
        LinearGrid g;
        for (int64_t k = 0; k < n; ++k) {
            if (k % unit == 0) g = grid->fit(w.data() + k, unit, nullptr);
            const float e = (w[size_t(k)] - g.value(g.code(w[size_t(k)]))) / float(u[size_t(k * n + k)]);
            for (int64_t j = k + 1; j < n; ++j) w[size_t(j)] -= e * float(u[size_t(k * n + j)]);
        }
    }
}

// One layer on each backend (nullptr: the CPU). The first result's bytes are the reference.
void report_layer(const char* name, const Layer& layer, int threads, const std::vector<Backend*>& backends) {
    std::vector<uint8_t> reference;
    for (Backend* backend : backends) {
        const double start = qbbench::seconds_now();
        const std::clock_t cpu_start = std::clock();
        const QuantizeResult result = run_gptq(layer, threads, backend);
        const double wall = qbbench::seconds_now() - start;
        const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        const double factor = result.details["factor_seconds"].get<double>();
        const double sweep = result.details["sweep_seconds"].get<double>();
        int64_t differing = 0;
        if (reference.empty()) reference = result.bytes;
        else
            for (size_t i = 0; i < reference.size(); ++i) differing += reference[i] != result.bytes[i];
        std::printf(
            "%-8s %5lld x %-5lld %-6s  wall %7.2f s (CPU %7.2f s)  factor %7.2f s (%6.1f GFLOP/s f64)  sweep %7.2f s "
            "(%6.1f GFLOP/s f32)  bytes differing %lld of %zu  peak RSS %6.0f MB\n",
            name, (long long)layer.rows, (long long)layer.cols, result.details["device"].get<std::string>().c_str(), wall,
            cpu, factor, factor_flops(layer.cols) / factor / 1e9, sweep,
            lazy_update_flops(layer.rows, layer.cols) / sweep / 1e9, (long long)differing, reference.size(),
            double(qbbench::peak_rss_bytes()) / 1e6);
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config config = parse(argc, argv);
        qbbench::print_header("GPTQ " + std::string(kFormat) + ", baseline layer 1024 x 1024");
        {
            const Layer small(1024, 1024);
            const double naive = qbbench::time_per_call([&] { naive_gptq(small); }, 0.0);
            std::printf("naive textbook GPTQ, 1 thread      %7.3f s\n", naive);
            const double one = qbbench::time_per_call([&] { run_gptq(small, 1); }, 1.0);
            std::printf("Quantbench GPTQ, 1 thread          %7.3f s  (%.1fx)\n", one, naive / one);
            const double all = qbbench::time_per_call([&] { run_gptq(small, config.threads); }, 1.0);
            std::printf("Quantbench GPTQ, %2d threads        %7.3f s  (%.1fx)\n", config.threads, all, naive / all);
        }
        if (config.small_only) return 0;
        std::vector<Backend*> backends;
        std::unique_ptr<Backend> vulkan;
        if (listed(config.devices, "cpu")) backends.push_back(nullptr);
        if (listed(config.devices, "vulkan")) {
            gpu::BackendChoice choice = gpu::select_backend("vulkan", {.cpu_threads = config.threads});
            if (!choice.notice.empty()) std::printf("%s\n", choice.notice.c_str());
            vulkan = std::move(choice.backend);
            std::printf("device: %s\n", vulkan->description().c_str());
            backends.push_back(vulkan.get());
        }
        qbbench::print_header("GPTQ " + std::string(kFormat) + " per Llama-2-7B layer shape, " +
                              std::to_string(config.threads) + " threads");
        if (listed(config.shapes, "attn_q")) report_layer("attn_q", Layer(4096, 4096), config.threads, backends);
        if (listed(config.shapes, "ffn_up")) report_layer("ffn_up", Layer(11008, 4096), config.threads, backends);
        if (listed(config.shapes, "ffn_down")) report_layer("ffn_down", Layer(4096, 11008), config.threads, backends);
        std::printf("(peak RSS is cumulative: the largest layer bounds it; a layer holds W, H, U and the output, and on\n"
                    " a device the swept copy of W; lavapipe's device memory is host memory and counts too)\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
