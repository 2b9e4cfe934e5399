// Perplexity-evaluation throughput and peak memory: stories260K on the TinyStories snippet, and a synthetic
// model with Llama-2-7B layer shapes (2 layers, dim 4096, ff 11008, 32 heads, vocab 32000, random weights)
// written to GGUF files and memory-mapped like a real model, each with f32 weights and with 4-bit fake-quant
// weights. Every model runs twice: with its linear weights decoded once at construction ("resident", the
// forward pass's only mode before weights were streamed) and streamed from the mapping ("streamed"); each
// line gives the peak resident memory of that run alone. Beside them, matrix products on one of the large
// model's shapes: a naive scalar loop, plain, pre-packed and decoded-on-the-fly (f32 and q4_0 rows) operands.
// Then the forward pass with its weight products on the Vulkan device (gpu/gpu_linear.h) beside the CPU, same
// run: stories260K (f32, llama.cpp's Q4_K_M) and a 1-layer model of Llama-2-7B shapes in q4_0 (ctx 128, 2
// chunks: a software Vulkan device such as lavapipe is slow). --no-gpu skips it, --gpu-only runs only it.
// Usage: bench_eval [--threads N] [--data DIR] [--small-only] [--layers L] [--work DIR] [--no-gpu|--gpu-only];
// DIR defaults to
// $QB_DATA_DIR, else ../shared/data; --work is where the large model's GGUF files are written (default: the
// temporary directory; removed afterwards).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/infer/matmul.h"
#include "core/io/gguf_writer.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/quant/format.h"
#include "core/store/text_file.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "gpu/gpu_linear.h"
#include "gpu/vk_device.h"
#include "tests/bench/support.h"

using namespace qb;

namespace {

struct Config : qbbench::CommonOptions {
    bool gpu = true, gpu_only = false;
    int64_t layers = 2;
    std::filesystem::path work = std::filesystem::temp_directory_path() / ("bench_eval_" + std::to_string(getpid()));
};

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (c.take_option(argc, argv, i)) continue;
        if (arg == "--layers" && i + 1 < argc) c.layers = std::atoll(argv[++i]);
        else if (arg == "--work" && i + 1 < argc) c.work = std::filesystem::path(argv[++i]) / "bench_eval";
        else if (arg == "--no-gpu") c.gpu = false;
        else if (arg == "--gpu-only") c.gpu_only = true;
        else throw Error("usage", "bench_eval [--threads N] [--data DIR] [--small-only] [--layers L] [--work DIR] [--no-gpu|--gpu-only]");
    }
    return c;
}

// The two ways a Transformer holds its linear weights, chosen by its resident budget.
struct Mode {
    const char* name;
    int64_t budget;
};
constexpr Mode kModes[] = {{"resident", int64_t(1) << 62}, {"streamed", 0}};

// Peak resident memory since the last reset_peak_rss() (VmHWM; /proc/self/clear_refs "5" resets it).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }
double peak_rss_mib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return double(qbbench::peak_rss_bytes()) / (1 << 20);
}

// A tensor held in memory in any registry format, presented as a TensorView.
TensorView memory_tensor(const std::string& name, std::vector<int64_t> shape, const FormatInfo& format,
                         std::vector<uint8_t> bytes) {
    auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    TensorView t;
    t.name = t.source_name = name;
    t.source_file = "memory";
    t.shape = std::move(shape);
    t.format = &format;
    t.data = {owned->data(), owned->size()};
    t.keep_alive = owned;
    return t;
}

// Uniform values with the variance of N(0, 1/fan_in) (fan_in = cols), or 1 ± 0.1 for norm weights;
// rows are generated in parallel from per-row seeds (splitmix64), so the model is the same every run.
std::vector<float> random_values(int64_t rows, int64_t cols, bool norm, uint64_t seed, int threads) {
    std::vector<float> values(size_t(rows * cols));
    const float scale = norm ? 0.1f : std::sqrt(3.0f / float(cols));
    parallel_for(rows, threads, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            uint64_t state = seed * 0x9e3779b97f4a7c15ull + uint64_t(r);
            for (int64_t c = 0; c < cols; ++c) {
                uint64_t z = (state += 0x9e3779b97f4a7c15ull);
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
                z ^= z >> 31;
                const float uniform = float(z >> 40) * 0x1p-24f * 2.0f - 1.0f;
                values[size_t(r * cols + c)] = (norm ? 1.0f : 0.0f) + scale * uniform;
            }
        }
    });
    return values;
}

// Stores f32 values in `format` (through the registry's encoder) when the row length fits it, else in f32.
TensorView stored_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values,
                         const FormatInfo& format, int threads) {
    const int64_t cols = shape.back(), rows = int64_t(values.size()) / cols;
    const FormatInfo& used = shape.size() == 2 && format.shape_problem(cols).empty() ? format : format_by_name("f32");
    return memory_tensor(name, std::move(shape), used, encode_tensor(used, values, rows, cols, nullptr, threads));
}

// Writes a GGUF file with Llama-2-7B layer shapes and tied embeddings (the classifier product has the same
// shape either way): matrices in `format`, norm weights in f32. Tensors are generated one at a time as the
// writer asks for them, so writing needs one tensor's memory.
void write_synthetic_llama(const std::filesystem::path& path, int64_t layers, const FormatInfo& format, int threads) {
    const int64_t vocab = 32000, embd = 4096, ff = 11008;
    const std::vector<GgufKv> metadata = {
        {"general.architecture", gguf_string("llama")},
        {"llama.context_length", gguf_u32(4096)},
        {"llama.embedding_length", gguf_u32(uint32_t(embd))},
        {"llama.block_count", gguf_u32(uint32_t(layers))},
        {"llama.feed_forward_length", gguf_u32(uint32_t(ff))},
        {"llama.attention.head_count", gguf_u32(32)},
        {"llama.attention.head_count_kv", gguf_u32(32)},
        {"llama.rope.dimension_count", gguf_u32(128)},
        {"llama.attention.layer_norm_rms_epsilon", gguf_f32(1e-5f)},
    };
    std::vector<GgufTensorSpec> tensors;
    uint64_t seed = 1;
    auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
        const bool norm = rows == 1;
        const FormatInfo& used = norm ? format_by_name("f32") : format;
        std::vector<uint64_t> dims = {uint64_t(cols)};
        if (!norm) dims.push_back(uint64_t(rows));
        tensors.push_back({name + ".weight", dims, used.ggml_type, [=, &used] {
                               return encode_tensor(used, random_values(rows, cols, norm, seed, threads), rows, cols,
                                                    nullptr, threads);
                           }});
        ++seed;
    };
    add("token_embd", vocab, embd);
    for (int64_t l = 0; l < layers; ++l) {
        const std::string blk = "blk." + std::to_string(l) + ".";
        add(blk + "attn_norm", 1, embd);
        for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output"}) add(blk + w, embd, embd);
        add(blk + "ffn_norm", 1, embd);
        add(blk + "ffn_gate", ff, embd);
        add(blk + "ffn_up", ff, embd);
        add(blk + "ffn_down", embd, ff);
    }
    add("output_norm", 1, embd);
    write_gguf(path, metadata, tensors);
}

// The same model with every matrix re-encoded in `format` where its rows fit (fake-quant source).
Model quantized_copy(const Model& model, const FormatInfo& format, int threads) {
    Model q = model;
    for (TensorView& t : q.tensors)
        if (t.shape.size() == 2) t = stored_tensor(t.name, t.shape, t.to_f32(threads), format, threads);
    return q;
}

// User + system CPU seconds of the whole process: on a machine shared with other work, tokens per CPU
// second stay meaningful when wall-clock throughput does not.
// One perplexity run in each mode; the peak memory is that of the run (construction and evaluation).
void report_eval(const char* label, const Model& model, const EvalText& text, int64_t max_chunks, int threads) {
    for (const Mode& mode : kModes) {
        for (const TensorView& t : model.tensors) t.evict_pages();  // no pages mapped in by the previous run
        reset_peak_rss();
        const double t0 = qbbench::seconds_now();
        const Transformer net(model, threads, nullptr, mode.budget);
        const double t1 = qbbench::seconds_now(), cpu1 = qbbench::cpu_seconds();
        ForwardStats stats;
        EvalOptions options;
        options.max_chunks = max_chunks;
        options.forward.threads = threads;
        options.forward.stats = &stats;
        const PerplexityResult r = evaluate_perplexity(net, text, options);
        const double seconds = qbbench::seconds_now() - t1, cpu = qbbench::cpu_seconds() - cpu1;
        const double tokens = double(r.chunks * r.ctx);
        std::printf("  %-22s %-8s decode %5.2f s  eval %lld x %lld tokens: %7.3f s = %8.1f tokens/s (%8.1f per "
                    "CPU-second)  ppl %.4f  decoded weights %7.1f MiB  peak RSS %7.1f MiB\n",
                    label, mode.name, t1 - t0, (long long)r.chunks, (long long)r.ctx, seconds, tokens / seconds,
                    tokens / cpu, r.ppl, double(net.resident_weight_bytes() + stats.peak_streamed_weight_bytes) / (1 << 20),
                    peak_rss_mib());
        std::fflush(stdout);
    }
}

void bench_stories(const Config& c) {
    qbbench::print_header("stories260K, tinystories-snippet-30k.txt, ctx 512, llama.cpp protocol");
    const Model f32 = load_model(c.data + "/models/stories260K/gguf/stories260K-f32.gguf");
    const EvalText text = evaluation_text(model_tokenizer(f32), read_text_file(c.data + "/text/tinystories-snippet-30k.txt").text);
    report_eval("f32", f32, text, 0, c.threads);
    // q4_0 needs rows of 32k values; stories260K has rows of 64 and 172, so 4-bit per-row grids stand in.
    report_eval("fake-quant int4_pc_sym", quantized_copy(f32, format_by_name("int4_pc_sym"), c.threads), text, 0, c.threads);
    std::printf("  reference: llama.cpp llama-perplexity -t 2 ~560 tokens/s on this class of machine\n");
    // Greedy generation re-runs the whole prefix per token (no KV cache): products of 1..N rows, where
    // decoding the weights per product weighs most.
    for (const Mode& mode : kModes) {
        const Transformer net(f32, c.threads, nullptr, mode.budget);
        const int64_t count = 64;
        const double t0 = qbbench::seconds_now(), cpu0 = qbbench::cpu_seconds();
        generate_greedy(net, {1}, count, c.threads);
        const double seconds = qbbench::seconds_now() - t0, cpu = qbbench::cpu_seconds() - cpu0;
        std::printf("  greedy generation, f32 %-8s %lld tokens: %6.3f s = %7.1f tokens/s (%7.1f per CPU-second)\n", mode.name,
                    (long long)count, seconds, double(count) / seconds, double(count) / cpu);
    }
}

// GFLOP/s of matmul_nt on an m x n x k product, B plain, pre-packed, or decoded from f32 / q4_0 rows while packed;
// beside a naive scalar triple loop for small m.
void bench_matmul(const Config& c, int64_t m) {
    const int64_t n = 4096, k = 4096;
    qbbench::print_header("matrix product " + std::to_string(m) + " x 4096 x 4096 (activations x attn_q weight)");
    const std::vector<float> a = random_values(m, k, false, 91, c.threads), b = random_values(n, k, false, 92, c.threads);
    std::vector<float> out(size_t(m * n));
    const double flops = 2.0 * double(m * n * k);
    double naive = 0;  // timed on the smallest product only (seconds per call at ~1 GFLOP/s)
    if (m <= 64) {
        naive = qbbench::time_per_call([&] {
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    float sum = 0;
                    for (int64_t p = 0; p < k; ++p) sum += a[size_t(i * k + p)] * b[size_t(j * k + p)];
                    out[size_t(i * n + j)] = sum;
                }
        });
        std::printf("  naive scalar loop, 1 thread       %8.2f GFLOP/s\n", flops / naive * 1e-9);
    }
    const PackedMatrix packed_b({b.data(), n, k, k}, c.threads);
    const FormatInfo& q4 = format_by_name("q4_0");
    const std::vector<uint8_t> q4_b = encode_tensor(q4, b, n, k, nullptr, c.threads);
    const RowSource f32_rows{n, k, [&](int64_t first, int64_t count, float* dst) {
                                 std::copy_n(b.data() + first * k, count * k, dst);
                             }};
    const RowSource q4_rows{n, k, [&](int64_t first, int64_t count, float* dst) {
                                decode_rows(q4, q4_b.data(), k, first, count, dst);
                            }};
    for (int threads : {1, c.threads}) {
        const double plain = qbbench::time_per_call(
            [&] { matmul_nt({a.data(), m, k, k}, {b.data(), n, k, k}, {out.data(), m, n, n}, threads); });
        const double packed =
            qbbench::time_per_call([&] { matmul_nt({a.data(), m, k, k}, packed_b, {out.data(), m, n, n}, threads); });
        const double from_f32 =
            qbbench::time_per_call([&] { matmul_nt({a.data(), m, k, k}, f32_rows, {out.data(), m, n, n}, threads); });
        const double from_q4 =
            qbbench::time_per_call([&] { matmul_nt({a.data(), m, k, k}, q4_rows, {out.data(), m, n, n}, threads); });
        std::printf("  matmul_nt, %d thread(s)  plain %8.2f GFLOP/s (%.0fx naive); pre-packed weights %.2f GFLOP/s;"
                    " rows decoded while packing: f32 %.2f, q4_0 %.2f GFLOP/s\n",
                    threads, flops / plain * 1e-9, naive / plain, flops / packed * 1e-9, flops / from_f32 * 1e-9,
                    flops / from_q4 * 1e-9);
    }
}

void bench_large(const Config& c) {
    const int64_t layers = c.layers;
    qbbench::print_header("synthetic Llama-2-7B layer shapes: " + std::to_string(layers) +
                          " layers, random weights in memory-mapped GGUF files, random tokens, ctx 512");
    EvalText text;
    text.bos_id = 1;
    for (int64_t i = 0; i < 2 * 512; ++i) text.tokens.push_back(int32_t((i * 7919 + 13) % 32000));
    const double flops_per_chunk =
        2.0 * 511 * double(layers) * (4.0 * 4096 * 4096 + 3.0 * 4096 * 11008) + 2.0 * 255 * 4096.0 * 32000;
    std::printf("  %.0f GFLOP of matrix products per chunk (linear layers and the scored half of the classifier)\n",
                flops_per_chunk * 1e-9);
    std::filesystem::create_directories(c.work);
    struct Cleanup {
        std::filesystem::path dir;
        ~Cleanup() { std::filesystem::remove_all(dir); }
    } cleanup{c.work};
    for (const char* format : {"f32", "q4_0"}) {
        const std::filesystem::path path = c.work / (std::string("llama7b-shape-") + format + ".gguf");
        const double t0 = qbbench::seconds_now();
        write_synthetic_llama(path, layers, format_by_name(format), c.threads);
        const Model model = load_model(path);
        std::printf("  wrote %s: %.1f MiB in %.1f s; its linear weights in f32: %.1f MiB, one layer's: %.1f MiB\n",
                    path.filename().c_str(), double(std::filesystem::file_size(path)) / (1 << 20),
                    qbbench::seconds_now() - t0, double(model.parameter_count()) * 4 / (1 << 20),
                    (4.0 * 4096 * 4096 + 3.0 * 4096 * 11008) * 4 / (1 << 20));
        std::fflush(stdout);
        report_eval(std::strcmp(format, "f32") == 0 ? "f32" : "fake-quant q4_0", model, text, 2, c.threads);
        std::filesystem::remove(path);
    }
}

// One perplexity run with the weight products on the CPU and one on the Vulkan device (resident weights,
// uploaded during the first chunk), same model and tokens; tokens/s of the whole evaluation.
void report_gpu_eval(const char* label, const Model& model, const EvalText& text, int64_t ctx, int64_t max_chunks,
                     int threads, const std::shared_ptr<gpu::Device>& device) {
    const Transformer net(model, threads);
    gpu::GpuLinearExecutor executor(device);
    for (LinearExecutor* where : {static_cast<LinearExecutor*>(nullptr), static_cast<LinearExecutor*>(&executor)}) {
        EvalOptions options;
        options.ctx = ctx;
        options.max_chunks = max_chunks;
        options.forward.threads = threads;
        options.forward.executor = where;
        const double t0 = qbbench::seconds_now(), cpu0 = qbbench::cpu_seconds();
        const PerplexityResult r = evaluate_perplexity(net, text, options);
        const double seconds = qbbench::seconds_now() - t0, cpu = qbbench::cpu_seconds() - cpu0;
        const double tokens = double(r.chunks * r.ctx);
        std::printf("  %-26s %-7s eval %lld x %lld tokens: %8.3f s = %8.1f tokens/s (%8.1f per CPU-second)  ppl %.6f%s\n",
                    label, where ? "vulkan" : "cpu", (long long)r.chunks, (long long)r.ctx, seconds, tokens / seconds,
                    tokens / cpu, r.ppl,
                    where ? ("  resident " + std::to_string(executor.resident_bytes() >> 10) + " KiB").c_str() : "");
        std::fflush(stdout);
    }
}

void bench_gpu_forward(const Config& c) {
    const gpu::DeviceStatus status = gpu::open_default_device();
    if (!status.available()) {
        std::printf("forward pass on Vulkan: skipped (%s)\n", status.reason.c_str());
        return;
    }
    const gpu::DeviceInfo& info = status.device->info();
    qbbench::print_header("forward pass, weight products on the CPU and on Vulkan (" + info.name + ", " + info.driver_name +
                          "), same run");
    const Model f32 = load_model(c.data + "/models/stories260K/gguf/stories260K-f32.gguf");
    const Model q4km = load_model(c.data + "/models/stories260K/gguf-llamacpp/stories260K-Q4_K_M.gguf");
    const EvalText text = evaluation_text(model_tokenizer(f32), read_text_file(c.data + "/text/tinystories-snippet-30k.txt").text);
    report_gpu_eval("stories260K f32", f32, text, 512, 0, c.threads, status.device);
    report_gpu_eval("stories260K Q4_K_M", q4km, text, 512, 0, c.threads, status.device);

    EvalText random;
    random.bos_id = 1;
    for (int64_t i = 0; i < 2 * 128; ++i) random.tokens.push_back(int32_t((i * 7919 + 13) % 32000));
    std::filesystem::create_directories(c.work);
    struct Cleanup {
        std::filesystem::path dir;
        ~Cleanup() { std::filesystem::remove_all(dir); }
    } cleanup{c.work};
    const std::filesystem::path path = c.work / "llama7b-shape-1-layer-q4_0.gguf";
    write_synthetic_llama(path, 1, format_by_name("q4_0"), c.threads);
    report_gpu_eval("7B shapes, 1 layer, q4_0", load_model(path), random, 128, 2, c.threads, status.device);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they are measured
        const Config c = parse(argc, argv);
        std::printf("bench_eval: %d threads (hardware %d)\n", c.threads, hardware_threads());
        if (c.gpu_only) {
            bench_gpu_forward(c);
            return 0;
        }
        bench_stories(c);
        if (!c.small_only) {
            bench_matmul(c, 64);
            bench_matmul(c, 512);
            bench_large(c);
        }
        if (c.gpu) bench_gpu_forward(c);
        std::printf("peak RSS of the process %.1f MiB\n", double(qbbench::peak_rss_bytes()) / (1 << 20));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_eval: %s\n", e.what());
        return 1;
    }
}
