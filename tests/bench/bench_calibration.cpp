// Calibration throughput: tokens/s of calibrate() (forward pass + activation summaries + XᵀX) on
// stories260K over wiki.valid.tokens (64k tokens, ctx 512), beside the forward pass alone and the
// summaries without Hessians; the XᵀX kernel against a naive loop on a Llama-2-7B-wide input; and one
// synthetic layer of Llama-2-7B shape (tests/support/synthetic_model.h, F16 HF folder in /tmp). Peak RSS
// after each part. Beside wall-clock time, each line shows the process's CPU seconds: on a shared machine
// the CPU time is the steadier figure (wall time grows with other processes' load). With --device vulkan
// (or auto) calibrate() and the forward passes run their weight products on the device (GpuLinearExecutor)
// and the Hessians on its XᵀX kernel (Backend::hessian_sums); the rest of the forward pass stays on the CPU.
// Usage: bench_calibration [--threads N] [--data DIR] [--small-only] [--device cpu|vulkan|auto]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>

#include "core/analysis/calibration.h"
#include "core/backend/backend.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/store/text_file.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "gpu/gpu_linear.h"
#include "gpu/vulkan_backend.h"
#include "tests/bench/support.h"
#include "tests/support/synthetic_model.h"

using namespace qb;

namespace {

struct Config : qbbench::CommonOptions {
    std::string device = "cpu";
};

// The devices calibrate() runs on (--device): no executor on the CPU.
struct Devices {
    std::unique_ptr<Backend> backend;
    std::unique_ptr<gpu::GpuLinearExecutor> executor;

    int64_t resident_budget() const { return executor ? 0 : kResidentWeightBudget; }
};

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (c.take_option(argc, argv, i)) continue;
        if (arg == "--device" && i + 1 < argc) c.device = argv[++i];
        else throw Error("usage", "bench_calibration [--threads N] [--data DIR] [--small-only] [--device cpu|vulkan|auto]");
    }
    return c;
}

void print_rss() { std::printf("  peak RSS so far %.1f MiB\n", double(qbbench::peak_rss_bytes()) / (1 << 20)); }

// Wall and CPU seconds of fn.
struct Timing {
    double wall = 0, cpu = 0;
};
Timing timed(const std::function<void()>& fn) {
    const double wall = qbbench::seconds_now(), cpu = qbbench::cpu_seconds();
    fn();
    return {qbbench::seconds_now() - wall, qbbench::cpu_seconds() - cpu};
}

void report(const char* label, Timing t, int64_t tokens) {
    std::printf("  %-44s %8.2f s  %10.0f tokens/s  (%.2f CPU s)\n", label, t.wall, double(tokens) / t.wall, t.cpu);
}

// Plain forward passes over the chunks calibrate() would run.
Timing forward_only(const Transformer& net, const EvalText& text, int64_t chunks, int64_t ctx, int threads,
                    const Devices& devices) {
    ForwardOptions forward;
    forward.threads = threads;
    forward.executor = devices.executor.get();
    return timed([&] {
        for (int64_t c = 0; c < chunks; ++c) {
            std::vector<int32_t> chunk(text.tokens.begin() + c * ctx, text.tokens.begin() + (c + 1) * ctx);
            chunk[0] = text.bos_id;
            net.forward(chunk, forward);
        }
    });
}

void bench_calibrate(const char* title, const Transformer& net, const EvalText& text, int64_t tokens, int threads,
                     const Devices& devices) {
    qbbench::print_header(title);
    CalibrationOptions options;
    options.tokens = tokens;
    options.executor = devices.executor.get();
    options.backend = devices.backend.get();
    CalibrationRun run;
    const Timing full = timed([&] { run = calibrate(net, text, options, [](ActivationStats&&) {}, nullptr, threads); });
    report("calibrate (forward + summaries + full XᵀX)", full, run.tokens);
    std::printf("  %lld records, %d pass(es), %lld tokens\n", (long long)run.records.size(), run.passes, (long long)run.tokens);
    print_rss();
    options.full_hessian = false;
    report("calibrate without Hessians (summaries only)",
           timed([&] { calibrate(net, text, options, [](ActivationStats&&) {}, nullptr, threads); }), run.tokens);
    report("forward pass alone", forward_only(net, text, run.chunks, run.ctx, threads, devices), run.tokens);
}

void bench_stories(const Config& c, const Devices& devices) {
    const Model model = load_model(c.data + "/models/stories260K/gguf/stories260K-f32.gguf");
    const Transformer net(model, c.threads, nullptr, devices.resident_budget());
    const EvalText text = evaluation_text(model_tokenizer(model), read_text_file(c.data + "/text/wiki.valid.tokens").text);
    bench_calibrate("stories260K, wiki.valid.tokens, 64k tokens, ctx 512", net, text, 65536, c.threads, devices);
}

// GFLOP/s of XᵀX for a tokens × dim block: HessianAccumulator (symmetric half, f32 products summed in
// f64) against a naive double loop over the full matrix.
void bench_xtx(const Config& c) {
    const int64_t tokens = 128, dim = 4096;
    qbbench::print_header("XᵀX of 128 tokens x 4096 channels (a Llama-2-7B q/k/v input)");
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<float> x(size_t(tokens * dim));
    for (float& v : x) v = normal(rng);
    const double flops = 2.0 * double(tokens) * double(dim) * double(dim);  // the full product, for both
    std::vector<double> h(size_t(dim * dim));
    const double naive = qbbench::time_per_call([&] {
        for (int64_t i = 0; i < dim; ++i)
            for (int64_t j = 0; j < dim; ++j) {
                double sum = 0;
                for (int64_t t = 0; t < tokens; ++t) sum += double(x[size_t(t * dim + i)]) * x[size_t(t * dim + j)];
                h[size_t(i * dim + j)] = sum;
            }
    }, 0.0);
    std::printf("  naive loop, 1 thread               %8.2f GFLOP/s-equivalent\n", flops / naive * 1e-9);
    for (int threads : {1, c.threads}) {
        HessianAccumulator accumulator(dim);
        const double fast = qbbench::time_per_call([&] { accumulator.add(x.data(), tokens, threads); });
        std::printf("  HessianAccumulator, %d thread(s)    %8.2f GFLOP/s-equivalent (%.0fx naive)\n", threads,
                    flops / fast * 1e-9, naive / fast);
    }
    print_rss();
}

void bench_large(const Config& c, const Devices& devices) {
    const std::filesystem::path folder = std::filesystem::temp_directory_path() / ("bench-calibration-" + std::to_string(::getpid()));
    qbtest::SyntheticLlama spec;
    spec.layers = 1;
    double start = qbbench::seconds_now();
    const uint64_t bytes = qbtest::write_synthetic_llama(folder, spec);
    std::printf("  wrote a 1-layer Llama-2-7B-shaped model (%.0f MB F16) in %.1f s\n", double(bytes) * 1e-6, qbbench::seconds_now() - start);
    {
        const Model model = load_model(folder);
        const Transformer net(model, c.threads, nullptr, devices.resident_budget());
        EvalText text;
        text.bos_id = 1;
        for (int64_t i = 0; i < 2 * 512; ++i) text.tokens.push_back(int32_t((i * 7919 + 13) % spec.vocab));
        bench_calibrate("synthetic Llama-2-7B shapes: 1 layer, 2 chunks of 512 tokens", net, text, 1024, c.threads, devices);
    }
    std::filesystem::remove_all(folder);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config c = parse(argc, argv);
        gpu::BackendChoice choice = gpu::select_backend(c.device, {.cpu_threads = c.threads});
        if (!choice.notice.empty()) std::printf("%s\n", choice.notice.c_str());
        Devices devices;
        devices.executor = gpu::linear_executor_for(*choice.backend);
        devices.backend = std::move(choice.backend);
        std::printf("bench_calibration: %d threads (hardware %d); forward products and Hessians on %s\n", c.threads,
                    hardware_threads(), devices.executor ? devices.backend->description().c_str() : "the CPU");
        bench_stories(c, devices);
        if (!c.small_only) {
            bench_xtx(c);
            bench_large(c, devices);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_calibration: %s\n", e.what());
        return 1;
    }
}
