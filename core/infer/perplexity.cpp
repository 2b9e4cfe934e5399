#include "core/infer/perplexity.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/infer/tokenizer.h"
#include "core/infer/tokenizer_loaders.h"
#include "core/jobs/job.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

constexpr int64_t kMinContext = 4;

// Which positions of a chunk are scored: positions first .. first+count-1 predict the next token.
struct ChunkPlan {
    int64_t ctx = 0, chunks = 0, first = 0, count = 0;
};

ChunkPlan plan_chunks(const Transformer& model, int64_t n_tokens, const EvalOptions& options) {
    const int64_t ctx = options.ctx;
    if (ctx < kMinContext)
        throw Error("eval", "context of " + std::to_string(ctx) + " tokens is too small (at least " +
                                std::to_string(kMinContext) + ")");
    if (model.context_length() > 0 && ctx > model.context_length())
        throw Error("eval", "context of " + std::to_string(ctx) + " tokens exceeds the model's context of " +
                                std::to_string(model.context_length()));
    if (n_tokens < 2 * ctx)
        throw Error("eval", "text too short: " + std::to_string(n_tokens) + " tokens, but 2 chunks of " +
                                std::to_string(ctx) + " need " + std::to_string(2 * ctx));
    ChunkPlan plan;
    plan.ctx = ctx;
    plan.chunks = n_tokens / ctx;
    if (options.max_chunks > 0) plan.chunks = std::min(plan.chunks, options.max_chunks);
    plan.first = options.protocol == EvalProtocol::LlamaCpp ? ctx / 2 : 0;
    plan.count = ctx - 1 - plan.first;
    return plan;
}

// Runs each chunk through `model` and hands fn the logits of the scored positions (plan.count rows)
// and the tokens they predict. The chunk's last token is never an input to a scored position, so it is
// not fed (causal attention makes the scored logits identical either way).
using ChunkFn = std::function<void(const std::vector<int32_t>& input, const int32_t* targets)>;

void for_each_chunk(const ChunkPlan& plan, const EvalText& text, const EvalOptions& options, const ChunkFn& fn) {
    for (int64_t c = 0; c < plan.chunks; ++c) {
        if (options.job) options.job->step(c, plan.chunks, "chunk " + std::to_string(c + 1) + "/" + std::to_string(plan.chunks));
        const int32_t* chunk = text.tokens.data() + c * plan.ctx;
        std::vector<int32_t> input(chunk, chunk + plan.ctx - 1);
        if (text.bos_id >= 0) input[0] = text.bos_id;
        fn(input, chunk + plan.first + 1);
    }
    if (options.job) options.job->step(plan.chunks, plan.chunks, "done");
}

ForwardOptions scored_rows(ForwardOptions forward, const ChunkPlan& plan) {
    forward.first_logit_position = plan.first;
    return forward;
}

// log Σ exp(logits), with the maximum factored out and the sum in double.
double log_normalizer(const float* logits, int64_t n) {
    const float max_logit = *std::max_element(logits, logits + n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max_logit);
    return max_logit + std::log(sum);
}

// Mean and standard error of a stream of per-token values (sum and sum of squares, as llama.cpp).
struct MeanAccumulator {
    double sum = 0, sum_sq = 0;
    int64_t count = 0;

    void add(double x) {
        sum += x;
        sum_sq += x * x;
        ++count;
    }
    double mean() const { return count ? sum / double(count) : 0.0; }
    double stderr_of_mean() const {
        if (count < 2) return 0.0;
        const double variance = sum_sq / double(count) - mean() * mean();
        return variance > 0 ? std::sqrt(variance / double(count - 1)) : 0.0;
    }
};

PerplexityResult perplexity_result(const MeanAccumulator& nll, const ChunkPlan& plan, EvalProtocol protocol) {
    PerplexityResult r;
    r.protocol = protocol;
    r.ctx = plan.ctx;
    r.chunks = plan.chunks;
    r.tokens = nll.count;
    r.mean_nll = nll.mean();
    r.nll_stderr = nll.stderr_of_mean();
    r.ppl = std::exp(r.mean_nll);
    r.ppl_stderr = r.ppl * r.nll_stderr;
    return r;
}

// Linear interpolation between the order statistics around fraction · (n - 1) (llama.cpp's percentiles).
double percentile(const std::vector<float>& sorted, double fraction) {
    if (sorted.empty()) return 0.0;
    const double position = fraction * double(sorted.size() - 1);
    const size_t below = size_t(position);
    const size_t above = std::min(below + 1, sorted.size() - 1);
    const double weight = position - double(below);
    return (1 - weight) * sorted[below] + weight * sorted[above];
}

// Everything KLD needs from one scored position.
struct TokenComparison {
    double nll_model = 0, nll_base = 0, kld = 0, p_model = 0, p_base = 0;
    bool same_top = false;
};

TokenComparison compare_rows(const float* model, const float* base, int64_t vocab, int32_t target) {
    const double norm_model = log_normalizer(model, vocab), norm_base = log_normalizer(base, vocab);
    TokenComparison t;
    for (int64_t v = 0; v < vocab; ++v) {
        const double log_p_base = base[v] - norm_base, log_p_model = model[v] - norm_model;
        t.kld += std::exp(log_p_base) * (log_p_base - log_p_model);
    }
    t.nll_model = norm_model - model[target];
    t.nll_base = norm_base - base[target];
    t.p_model = std::exp(-t.nll_model);
    t.p_base = std::exp(-t.nll_base);
    t.same_top = std::max_element(model, model + vocab) - model == std::max_element(base, base + vocab) - base;
    return t;
}

}  // namespace

std::string_view protocol_name(EvalProtocol protocol) {
    return protocol == EvalProtocol::LlamaCpp ? "llama.cpp" : "paper";
}

EvalProtocol protocol_by_name(std::string_view name) {
    for (EvalProtocol p : {EvalProtocol::LlamaCpp, EvalProtocol::Paper})
        if (protocol_name(p) == name) return p;
    throw Error("protocol", "unknown evaluation protocol '" + std::string(name) + "' (known: llama.cpp, paper)");
}

std::string normalize_newlines(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\r') {
            out += text[i];
        } else if (i + 1 >= text.size() || text[i + 1] != '\n') {
            out += '\n';
        }
    }
    return out;
}

EvalText evaluation_text(const Tokenizer& tokenizer, std::string_view text) {
    const std::string normalized = normalize_newlines(text);
    if (normalized.empty()) throw Error("text", "empty: there is nothing to evaluate");
    EvalText out;
    const bool add_bos = tokenizer.add_bos_default() && tokenizer.bos_id() >= 0;
    out.tokens = tokenizer.encode(normalized, add_bos);
    out.bos_id = add_bos ? tokenizer.bos_id() : -1;
    return out;
}

Tokenizer model_tokenizer(const Model& model) {
    if (model.tokenizer.kind == TokenizerSource::Kind::None)
        throw Error(model.source_path.string(), "has no tokenizer, so text cannot be evaluated with it");
    return load_tokenizer(model.tokenizer);
}

PerplexityResult evaluate_perplexity(const Transformer& model, const EvalText& text, const EvalOptions& options) {
    const ChunkPlan plan = plan_chunks(model, int64_t(text.tokens.size()), options);
    const ForwardOptions forward = scored_rows(options.forward, plan);
    const int64_t vocab = model.vocab_size();
    MeanAccumulator nll;
    std::vector<double> chunk_nll(size_t(plan.count));
    for_each_chunk(plan, text, options, [&](const std::vector<int32_t>& input, const int32_t* targets) {
        const std::vector<float> logits = model.forward(input, forward);
        parallel_for(plan.count, forward.threads, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                const float* row = logits.data() + r * vocab;
                chunk_nll[size_t(r)] = log_normalizer(row, vocab) - row[targets[r]];
            }
        });
        for (double x : chunk_nll) nll.add(x);  // in position order: the sums do not depend on threads
    });
    return perplexity_result(nll, plan, options.protocol);
}

KldResult evaluate_kld(const Transformer& model, const Transformer& base, const EvalText& text,
                       const EvalOptions& options) {
    if (model.vocab_size() != base.vocab_size())
        throw Error("eval", "vocabulary mismatch: the model has " + std::to_string(model.vocab_size()) +
                                " tokens, the base model " + std::to_string(base.vocab_size()));
    const ChunkPlan plan = plan_chunks(model, int64_t(text.tokens.size()), options);
    plan_chunks(base, int64_t(text.tokens.size()), options);
    const ForwardOptions forward = scored_rows(options.forward, plan);
    ForwardOptions base_forward;
    base_forward.threads = forward.threads;
    base_forward.first_logit_position = plan.first;
    base_forward.executor = forward.executor;
    const int64_t vocab = model.vocab_size();

    MeanAccumulator nll_model, nll_base, kld, delta_p;
    int64_t same_top = 0;
    std::vector<float> kld_values;
    std::vector<TokenComparison> chunk(size_t(plan.count));
    for_each_chunk(plan, text, options, [&](const std::vector<int32_t>& input, const int32_t* targets) {
        const std::vector<float> base_logits = base.forward(input, base_forward);
        const std::vector<float> model_logits = model.forward(input, forward);
        parallel_for(plan.count, forward.threads, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r)
                chunk[size_t(r)] = compare_rows(model_logits.data() + r * vocab, base_logits.data() + r * vocab, vocab, targets[r]);
        });
        for (const TokenComparison& t : chunk) {
            nll_model.add(t.nll_model);
            nll_base.add(t.nll_base);
            kld.add(t.kld);
            delta_p.add(t.p_model - t.p_base);
            same_top += t.same_top;
            kld_values.push_back(float(t.kld));
        }
    });

    KldResult r;
    r.protocol = options.protocol;
    r.ctx = plan.ctx;
    r.chunks = plan.chunks;
    r.tokens = kld.count;
    r.model = perplexity_result(nll_model, plan, options.protocol);
    r.base = perplexity_result(nll_base, plan, options.protocol);
    r.ppl_ratio = r.model.ppl / r.base.ppl;
    r.mean_kld = kld.mean();
    r.kld_stderr = kld.stderr_of_mean();
    std::sort(kld_values.begin(), kld_values.end());
    r.median_kld = percentile(kld_values, 0.5);
    r.p99_kld = percentile(kld_values, 0.99);
    r.max_kld = kld_values.empty() ? 0.0 : kld_values.back();
    r.mean_delta_p = delta_p.mean();
    r.rms_delta_p = std::sqrt(delta_p.sum_sq / double(std::max<int64_t>(1, delta_p.count)));
    r.top1_agreement = double(same_top) / double(std::max<int64_t>(1, kld.count));
    return r;
}

}  // namespace qb
