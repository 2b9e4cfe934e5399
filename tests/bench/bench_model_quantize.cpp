// Whole-model quantization time (issue 4) for a synthetic model with Llama-2-7B shapes: token_embd and
// output 32000 x 4096 and per layer q/k/v/o 4096 x 4096, gate/up 11008 x 4096, down 4096 x 11008, random
// f16 weights generated on the fly, one tensor at a time (no file, nothing kept), each quantized to the
// format (q4_k) as the quantize pipeline's producer does it: f16 -> f32, then rtn through the backend
// (encode, decode, error metrics), on every backend in turn (the CPU, then Vulkan) with the bytes compared.
// Per backend: seconds, GB/s of f16 input, and the process's peak RSS, which one tensor's working set
// bounds whatever the layer count (lavapipe's device memory is host memory and counts too). CPU seconds of
// the whole process beside wall time show how much of the machine the run had.
// Usage: bench_model_quantize [--layers N (32)] [--format F (q4_k)] [--threads N] [--devices cpu,vulkan]
//                             [--no-embeddings]
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "core/algo/algorithm.h"
#include "core/backend/backend.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/util/parallel.h"
#include "gpu/vulkan_backend.h"
#include "tests/bench/support.h"

using namespace qb;

namespace {

struct Config {
    int64_t layers = 32;
    std::string format = "q4_k";
    int threads = 0;
    std::string devices = "cpu,vulkan";
    bool embeddings = true;
};

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--layers" && has_value)
            c.layers = std::atoll(argv[++i]);
        else if (arg == "--format" && has_value)
            c.format = argv[++i];
        else if (arg == "--threads" && has_value)
            c.threads = std::atoi(argv[++i]);
        else if (arg == "--devices" && has_value)
            c.devices = argv[++i];
        else if (arg == "--no-embeddings")
            c.embeddings = false;
        else
            throw Error("usage", "bench_model_quantize [--layers N] [--format F] [--threads N] [--devices cpu,vulkan] "
                                 "[--no-embeddings]");
    }
    if (c.threads <= 0) c.threads = hardware_threads();
    return c;
}

struct Shape {
    std::string name;
    int64_t rows, cols;
};

std::vector<Shape> layer_shapes(int64_t layer) {
    const std::string b = "blk." + std::to_string(layer) + ".";
    return {{b + "attn_q", 4096, 4096},   {b + "attn_k", 4096, 4096},    {b + "attn_v", 4096, 4096},
            {b + "attn_output", 4096, 4096}, {b + "ffn_gate", 11008, 4096}, {b + "ffn_up", 11008, 4096},
            {b + "ffn_down", 4096, 11008}};
}

uint64_t mix(uint64_t x) {  // splitmix64
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// rows x cols values like a trained layer's (about gaussian, std 0.02, every 997th value 8x), as f16 bytes.
std::vector<uint8_t> random_f16(const Shape& s, uint64_t seed, int threads) {
    std::vector<float> values(size_t(s.rows * s.cols));
    parallel_for(s.rows, threads, [&](int64_t r0, int64_t r1) {
        for (size_t i = size_t(r0 * s.cols); i < size_t(r1 * s.cols); ++i) {
            const uint64_t h = mix(seed ^ (i * 0x2545f4914f6cdd1dull));
            double sum = 0;  // Irwin-Hall of 4 uniforms: mean 2, variance 1/3
            for (int k = 0; k < 4; ++k) sum += double((h >> (16 * k)) & 0xffff) / 65536.0;
            values[i] = float((sum - 2.0) * 1.7320508 * 0.02 * (i % 997 == 0 ? 8 : 1));
        }
    });
    return encode_tensor(format_by_name("f16"), values, s.rows, s.cols, nullptr, threads);
}

struct Totals {
    double seconds = 0;
    double input_bytes = 0;
    int64_t tensors = 0;
    int64_t differing_tensors = 0;
};

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config config = parse(argc, argv);
        const FormatInfo& format = format_by_name(config.format);
        const FormatInfo& f16 = format_by_name("f16");
        std::vector<std::pair<std::string, std::unique_ptr<Backend>>> backends;
        if (("," + config.devices + ",").find(",cpu,") != std::string::npos)
            backends.emplace_back("cpu", make_cpu_backend(config.threads));
        if (("," + config.devices + ",").find(",vulkan,") != std::string::npos) {
            gpu::BackendChoice choice = gpu::select_backend("vulkan", {.cpu_threads = config.threads});
            if (!choice.notice.empty()) std::printf("%s\n", choice.notice.c_str());
            backends.emplace_back(choice.backend->name(), std::move(choice.backend));
        }
        for (const auto& [name, backend] : backends)
            std::printf("%-6s %s (encodes %s on the device: %s)\n", name.c_str(), backend->description().c_str(),
                        format.name.c_str(), backend->accelerates_encode(format, false) ? "yes" : "no");

        std::vector<Shape> shapes;
        if (config.embeddings) shapes.push_back({"token_embd", 32000, 4096});
        for (int64_t l = 0; l < config.layers; ++l)
            for (const Shape& s : layer_shapes(l)) shapes.push_back(s);
        if (config.embeddings) shapes.push_back({"output", 32000, 4096});
        qbbench::print_header("synthetic Llama-2-7B shapes, " + std::to_string(config.layers) + " layers" +
                              (config.embeddings ? " + token_embd/output" : "") + " -> " + format.name + ", " +
                              std::to_string(config.threads) + " threads");

        std::map<std::string, Totals> totals;
        double generation = 0;
        const double start = qbbench::seconds_now();
        const std::clock_t cpu_start = std::clock();
        for (size_t t = 0; t < shapes.size(); ++t) {
            const Shape& s = shapes[t];
            double begin = qbbench::seconds_now();
            const std::vector<uint8_t> stored = random_f16(s, t + 1, config.threads);
            generation += qbbench::seconds_now() - begin;
            std::vector<uint8_t> reference;
            for (const auto& [name, backend] : backends) {
                begin = qbbench::seconds_now();
                std::vector<float> weight(size_t(s.rows * s.cols));
                decode_rows(f16, stored.data(), s.cols, 0, s.rows, weight.data(), config.threads);
                QuantizeRequest r;
                r.weight = weight.data();
                r.rows = s.rows;
                r.cols = s.cols;
                r.format = &format;
                r.threads = config.threads;
                r.backend = backend.get();
                QuantizeResult q = quantize_matrix("rtn", r);
                Totals& total = totals[name];
                total.seconds += qbbench::seconds_now() - begin;
                total.input_bytes += double(stored.size());
                ++total.tensors;
                if (reference.empty()) reference = std::move(q.bytes);
                else total.differing_tensors += q.bytes != reference;
            }
            if ((t + 1) % 7 == 0 || t + 1 == shapes.size()) {
                std::printf("  %3zu/%zu tensors:", t + 1, shapes.size());
                for (const auto& [name, total] : totals) std::printf("  %s %.1f s", name.c_str(), total.seconds);
                std::printf("  peak RSS %.0f MB\n", double(qbbench::peak_rss_bytes()) / 1e6);
                std::fflush(stdout);
            }
        }
        const double wall = qbbench::seconds_now() - start;
        const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        for (const auto& [name, backend] : backends) {
            const Totals& total = totals[name];
            std::printf("%-6s %3lld tensors  %8.1f s  %6.3f GB/s of f16 input  bytes differing from the CPU's in %lld tensors\n",
                        name.c_str(), (long long)total.tensors, total.seconds, total.input_bytes / total.seconds / 1e9,
                        (long long)total.differing_tensors);
        }
        std::printf("generation %.1f s; whole run %.1f s wall, %.1f s CPU; peak RSS %.0f MB (one tensor's working set)\n",
                    generation, wall, cpu, double(qbbench::peak_rss_bytes()) / 1e6);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
