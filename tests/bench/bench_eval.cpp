// Perplexity-evaluation throughput: stories260K on the TinyStories snippet, and a synthetic model with
// Llama-2-7B layer shapes (2 layers, dim 4096, ff 11008, 32 heads, vocab 32000, random weights), each
// with f32 weights and with 4-bit fake-quant weights; beside a naive scalar matrix product on one of the
// large model's shapes, and the process's peak memory.
// Usage: bench_eval [--threads N] [--data DIR] [--small-only]; DIR defaults to $QB_DATA_DIR, else ../shared/data.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <sys/resource.h>

#include "core/infer/matmul.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "tests/bench/support.h"

using namespace qb;

namespace {

struct Config {
    int threads = 2;
    std::string data = std::getenv("QB_DATA_DIR") ? std::getenv("QB_DATA_DIR") : "../shared/data";
    bool small_only = false;
};

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--threads" && i + 1 < argc) c.threads = std::atoi(argv[++i]);
        else if (arg == "--data" && i + 1 < argc) c.data = argv[++i];
        else if (arg == "--small-only") c.small_only = true;
        else throw Error("usage", "bench_eval [--threads N] [--data DIR] [--small-only]");
    }
    return c;
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

// Llama-2-7B layer shapes with tied embeddings (the classifier product has the same shape either way).
Model synthetic_llama(int64_t layers, const FormatInfo& format, int threads) {
    Model m;
    m.architecture = "llama";
    m.source_path = "synthetic Llama-2-7B shapes";
    HyperParams& hp = m.hparams;
    hp.n_vocab = 32000, hp.n_embd = 4096, hp.n_layer = layers, hp.n_head = 32, hp.n_head_kv = 32, hp.head_dim = 128;
    hp.n_ff = 11008, hp.n_ctx = 4096, hp.rope_dims = 128, hp.tied_embeddings = true;
    uint64_t seed = 1;
    auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
        const bool norm = rows == 1;
        std::vector<int64_t> shape = norm ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
        m.tensors.push_back(stored_tensor(name, shape, random_values(rows, cols, norm, seed++, threads), format, threads));
    };
    add("token_embd", hp.n_vocab, hp.n_embd);
    for (int64_t l = 0; l < layers; ++l) {
        const std::string blk = "blk." + std::to_string(l) + ".";
        add(blk + "attn_norm", 1, hp.n_embd);
        for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output"}) add(blk + w, hp.n_embd, hp.n_embd);
        add(blk + "ffn_norm", 1, hp.n_embd);
        add(blk + "ffn_gate", hp.n_ff, hp.n_embd);
        add(blk + "ffn_up", hp.n_ff, hp.n_embd);
        add(blk + "ffn_down", hp.n_embd, hp.n_ff);
    }
    add("output_norm", 1, hp.n_embd);
    return m;
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
double cpu_seconds() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + 1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path, "cannot open");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void report_eval(const char* label, const Model& model, const EvalText& text, int64_t max_chunks, int threads) {
    const double t0 = qbbench::seconds_now();
    const Transformer net(model, threads);
    const double t1 = qbbench::seconds_now(), cpu1 = cpu_seconds();
    EvalOptions options;
    options.max_chunks = max_chunks;
    options.forward.threads = threads;
    const PerplexityResult r = evaluate_perplexity(net, text, options);
    const double seconds = qbbench::seconds_now() - t1, cpu = cpu_seconds() - cpu1;
    const double tokens = double(r.chunks * r.ctx);
    std::printf("  %-24s decode %5.2f s  eval %lld x %lld tokens: %7.3f s = %8.1f tokens/s (%8.1f per CPU-second)  ppl %.4f\n",
                label, t1 - t0, (long long)r.chunks, (long long)r.ctx, seconds, tokens / seconds, tokens / cpu, r.ppl);
}

void bench_stories(const Config& c) {
    qbbench::print_header("stories260K, tinystories-snippet-30k.txt, ctx 512, llama.cpp protocol");
    const Model f32 = load_model(c.data + "/models/stories260K/gguf/stories260K-f32.gguf");
    const EvalText text = evaluation_text(model_tokenizer(f32), read_file(c.data + "/text/tinystories-snippet-30k.txt"));
    report_eval("f32", f32, text, 0, c.threads);
    // q4_0 needs rows of 32k values; stories260K has rows of 64 and 172, so 4-bit per-row grids stand in.
    report_eval("fake-quant int4_pc_sym", quantized_copy(f32, format_by_name("int4_pc_sym"), c.threads), text, 0, c.threads);
    std::printf("  reference: llama.cpp llama-perplexity -t 2 ~560 tokens/s on this class of machine\n");
}

// GFLOP/s of a naive scalar triple loop and of matmul_nt on the same m x n x k product.
void bench_matmul(const Config& c) {
    const int64_t m = 64, n = 4096, k = 4096;
    qbbench::print_header("matrix product 64 x 4096 x 4096 (activations x attn_q weight)");
    const std::vector<float> a = random_values(m, k, false, 91, c.threads), b = random_values(n, k, false, 92, c.threads);
    std::vector<float> out(size_t(m * n));
    const double flops = 2.0 * double(m * n * k);
    const double naive = qbbench::time_per_call([&] {
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                float sum = 0;
                for (int64_t p = 0; p < k; ++p) sum += a[size_t(i * k + p)] * b[size_t(j * k + p)];
                out[size_t(i * n + j)] = sum;
            }
    });
    std::printf("  naive scalar loop, 1 thread       %8.2f GFLOP/s\n", flops / naive * 1e-9);
    const PackedMatrix packed_b({b.data(), n, k, k}, c.threads);
    for (int threads : {1, c.threads}) {
        const double plain = qbbench::time_per_call(
            [&] { matmul_nt({a.data(), m, k, k}, {b.data(), n, k, k}, {out.data(), m, n, n}, threads); });
        const double packed =
            qbbench::time_per_call([&] { matmul_nt({a.data(), m, k, k}, packed_b, {out.data(), m, n, n}, threads); });
        std::printf("  matmul_nt, %d thread(s)            %8.2f GFLOP/s  (%.0fx naive); with pre-packed weights %.2f GFLOP/s\n",
                    threads, flops / plain * 1e-9, naive / plain, flops / packed * 1e-9);
    }
}

void bench_large(const Config& c) {
    qbbench::print_header("synthetic Llama-2-7B layer shapes: 2 layers, random weights, random tokens, ctx 512");
    EvalText text;
    text.bos_id = 1;
    for (int64_t i = 0; i < 2 * 512; ++i) text.tokens.push_back(int32_t((i * 7919 + 13) % 32000));
    const int64_t layers = 2;
    const double flops_per_chunk =
        2.0 * 511 * double(layers) * (4.0 * 4096 * 4096 + 3.0 * 4096 * 11008) + 2.0 * 255 * 4096.0 * 32000;
    std::printf("  %.0f GFLOP of matrix products per chunk (linear layers and the scored half of the classifier)\n",
                flops_per_chunk * 1e-9);
    {
        const double t0 = qbbench::seconds_now();
        const Model f32 = synthetic_llama(layers, format_by_name("f32"), c.threads);
        std::printf("  generated f32 weights in %.1f s\n", qbbench::seconds_now() - t0);
        report_eval("f32", f32, text, 2, c.threads);
    }
    const Model q4 = synthetic_llama(layers, format_by_name("q4_0"), c.threads);
    report_eval("fake-quant q4_0", q4, text, 2, c.threads);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config c = parse(argc, argv);
        std::printf("bench_eval: %d threads (hardware %d)\n", c.threads, hardware_threads());
        bench_stories(c);
        if (!c.small_only) {
            bench_matmul(c);
            bench_large(c);
        }
        std::printf("peak RSS %.1f MiB\n", double(qbbench::peak_rss_bytes()) / (1 << 20));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_eval: %s\n", e.what());
        return 1;
    }
}
