// quantbench-cli eval: perplexity of a model on a text, or its KL divergence from a base model.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/store/text_file.h"
#include "core/util/error.h"
#include "gpu/gpu_linear.h"
#include "gpu/vulkan_backend.h"

namespace qbcli {
namespace {

// Progress on stderr: a rewritten line on a terminal; in a log, one line per tenth of the work.
qb::JobControl progress_printer(std::string label) {
    const auto start = std::chrono::steady_clock::now();
    const bool terminal = isatty(fileno(stderr));
    return qb::JobControl([label = std::move(label), start, terminal, last_tenth = -1](double fraction,
                                                                                     std::string_view what) mutable {
        const int tenth = int(fraction * 10);
        if (!terminal && tenth == last_tenth) return;
        last_tenth = tenth;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "%s%s: %3.0f%% %.*s (%.1f s)%s", terminal ? "\r" : "", label.c_str(), fraction * 100,
                     int(what.size()), what.data(), seconds, terminal ? "\033[K" : "\n");
        if (terminal && fraction >= 1) std::fputc('\n', stderr);
    });
}

nlohmann::json ppl_json(const qb::PerplexityResult& r) {
    return {{"ppl", r.ppl}, {"ppl_stderr", r.ppl_stderr}, {"mean_nll", r.mean_nll}, {"nll_stderr", r.nll_stderr}};
}

void print_ppl(const char* label, const qb::PerplexityResult& r) {
    std::printf("%-10s %.4f ± %.4f   (mean NLL %.5f ± %.5f nats)\n", label, r.ppl, r.ppl_stderr, r.mean_nll, r.nll_stderr);
}

}  // namespace

int run_eval(const CommandArgs& argv) {
    Args args(argv, {{"text", "ctx", "protocol", "chunks", "threads", "base", "device"}, {"kld", "json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", "eval needs exactly one MODEL");
    if (!args.has("text")) throw qb::Error("usage", "eval needs --text FILE");
    if (args.flag("kld") != args.has("base")) throw qb::Error("usage", "--kld and --base MODEL go together");

    qb::EvalOptions options;
    options.ctx = args.integer("ctx", 512);
    options.protocol = qb::protocol_by_name(args.value("protocol", "llama.cpp"));
    options.max_chunks = args.integer("chunks", 0);
    options.forward.threads = int(args.integer("threads", 0));
    if (options.max_chunks < 0) throw qb::Error("usage", "--chunks must be positive");

    const std::string model_path = args.positionals()[0], text_path = args.value("text");
    // The weight products run on the chosen device (dequantize-multiply from the stored bytes; tensors
    // without a kernel there stay on the CPU); everything else of the forward pass on the CPU. With a
    // device, the CPU keeps no decoded copy of the weights (resident budget 0): the products it still
    // runs decode their rows as they go.
    const qb::gpu::BackendChoice device = qb::gpu::select_backend(args.value("device", "cpu"), {.cpu_threads = options.forward.threads});
    if (!device.notice.empty()) std::fprintf(stderr, "%s\n", device.notice.c_str());
    const std::unique_ptr<qb::gpu::GpuLinearExecutor> gpu = qb::gpu::linear_executor_for(*device.backend);
    options.forward.executor = gpu.get();
    const std::string device_text = gpu ? gpu->description() : "CPU";
    std::fprintf(stderr, "weight products on %s\n", device_text.c_str());

    const qb::Model model = qb::load_model(model_path);
    const qb::EvalText text = qb::evaluation_text(qb::model_tokenizer(model), qb::read_text_file(text_path).text);
    const qb::JobControl decode_progress = progress_printer("decoding weights");
    const int64_t resident_budget = gpu ? 0 : qb::kResidentWeightBudget;
    const qb::Transformer net(model, options.forward.threads, &decode_progress, resident_budget);
    std::optional<qb::Model> base_model;
    std::optional<qb::Transformer> base;
    if (args.has("base")) {
        base_model.emplace(qb::load_model(args.value("base")));
        base.emplace(*base_model, options.forward.threads, &decode_progress, resident_budget);
    }

    const qb::JobControl eval_progress = progress_printer(base ? "kld" : "perplexity");
    options.job = &eval_progress;
    const auto start = std::chrono::steady_clock::now();
    std::optional<qb::KldResult> kld;
    qb::PerplexityResult ppl;
    if (base) {
        kld = qb::evaluate_kld(net, *base, text, options);
        ppl = kld->model;
    } else {
        ppl = qb::evaluate_perplexity(net, text, options);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double tokens_per_second = double(ppl.chunks * ppl.ctx) / seconds;

    if (args.flag("json")) {
        nlohmann::json out = {{"tool", std::string("quantbench-cli ") + QB_VERSION},
                              {"model", model_path},
                              {"text", text_path},
                              {"text_tokens", text.tokens.size()},
                              {"protocol", qb::protocol_name(ppl.protocol)},
                              {"ctx", ppl.ctx},
                              {"chunks", ppl.chunks},
                              {"scored_tokens", ppl.tokens},
                              {"device", device_text},
                              {"seconds", seconds},
                              {"tokens_per_second", tokens_per_second}};
        out.update(ppl_json(ppl));
        if (kld)
            out["kld"] = {{"base", args.value("base")},
                          {"base_ppl", ppl_json(kld->base)},
                          {"ppl_ratio", kld->ppl_ratio},
                          {"mean_kld", kld->mean_kld},
                          {"kld_stderr", kld->kld_stderr},
                          {"median_kld", kld->median_kld},
                          {"p99_kld", kld->p99_kld},
                          {"max_kld", kld->max_kld},
                          {"mean_delta_p", kld->mean_delta_p},
                          {"rms_delta_p", kld->rms_delta_p},
                          {"top1_agreement", kld->top1_agreement}};
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("model      %s (%s)\n", model_path.c_str(), model.architecture.c_str());
    std::printf("text       %s (%zu tokens)\n", text_path.c_str(), text.tokens.size());
    std::printf("protocol   %s, ctx %lld, %lld chunks, %lld scored tokens\n", std::string(qb::protocol_name(ppl.protocol)).c_str(),
                (long long)ppl.ctx, (long long)ppl.chunks, (long long)ppl.tokens);
    std::printf("device     %s\n", device_text.c_str());
    print_ppl("PPL", ppl);
    if (kld) {
        print_ppl("base PPL", kld->base);
        std::printf("PPL ratio  %.6f\n", kld->ppl_ratio);
        std::printf("KLD        mean %.6f ± %.6f, median %.6f, p99 %.6f, max %.6f\n", kld->mean_kld, kld->kld_stderr,
                    kld->median_kld, kld->p99_kld, kld->max_kld);
        std::printf("Δp         mean %+.4f%%, RMS %.4f%%\n", kld->mean_delta_p * 100, kld->rms_delta_p * 100);
        std::printf("top-1      %.3f%% agreement\n", kld->top1_agreement * 100);
    }
    std::printf("time       %.2f s (%.0f tokens/s)\n", seconds, tokens_per_second);
    return 0;
}

}  // namespace qbcli
