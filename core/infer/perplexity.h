// Perplexity and KL-divergence evaluation over a text, chunk by chunk.
//
// Chunking (both protocols, as llama.cpp's llama-perplexity): the whole text is tokenized once with a
// leading BOS (after CRLF -> LF), cut into consecutive ctx-token chunks (the tail that does not fill a
// chunk is dropped) and each chunk's first token is replaced by BOS. At least two chunks are needed.
//   - llama.cpp protocol: only the second half of a chunk is scored: positions ctx/2 .. ctx-2 predict
//     tokens ctx/2+1 .. ctx-1 (ctx/2 - 1 tokens per chunk for even ctx).
//   - paper protocol: every position scores the next token: positions 0 .. ctx-2 predict 1 .. ctx-1.
// ppl = exp(mean NLL); its ± is llama.cpp's: ppl · sqrt(var(NLL) / (count - 1)).
//
// KL divergence streams both models over the same chunks and keeps only per-token scalars, never logits.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/infer/forward.h"

namespace qb {

class JobControl;
class Tokenizer;

enum class EvalProtocol { LlamaCpp, Paper };

std::string_view protocol_name(EvalProtocol protocol);  // "llama.cpp", "paper"
EvalProtocol protocol_by_name(std::string_view name);    // throws Error("protocol", ...)

struct EvalOptions {
    int64_t ctx = 512;
    EvalProtocol protocol = EvalProtocol::LlamaCpp;
    int64_t max_chunks = 0;  // 0: every chunk of the text
    ForwardOptions forward;  // threads, weight overrides, hooks (first_logit_position is set per chunk)
    const JobControl* job = nullptr;  // progress per chunk, cancellation between chunks
};

struct PerplexityResult {
    EvalProtocol protocol = EvalProtocol::LlamaCpp;
    int64_t ctx = 0;
    int64_t chunks = 0;
    int64_t tokens = 0;       // scored tokens
    double mean_nll = 0;      // nats per token
    double nll_stderr = 0;    // standard error of mean_nll
    double ppl = 0;
    double ppl_stderr = 0;    // ± of ppl, as llama.cpp prints it
};

struct KldResult {
    EvalProtocol protocol = EvalProtocol::LlamaCpp;
    int64_t ctx = 0;
    int64_t chunks = 0;
    int64_t tokens = 0;
    PerplexityResult model, base;  // perplexities of both over the same tokens
    double ppl_ratio = 0;          // ppl(model) / ppl(base)
    double mean_kld = 0, kld_stderr = 0, median_kld = 0, p99_kld = 0, max_kld = 0;  // KL(base || model), nats
    double mean_delta_p = 0, rms_delta_p = 0;  // Δp = p_model(correct) - p_base(correct)
    double top1_agreement = 0;                 // fraction of positions where both argmax tokens agree
};

// Text with CR LF (and lone CR) line endings turned into LF.
std::string normalize_newlines(std::string_view text);

// Tokens to evaluate and the BOS that starts every chunk (-1: the vocabulary adds no BOS, chunks keep
// their first token, as llama.cpp does for such models).
struct EvalText {
    std::vector<int32_t> tokens;
    int32_t bos_id = -1;
};

// Normalizes line endings and tokenizes with a leading BOS where the vocabulary adds one. Throws
// Error("text", ...) for an empty text.
EvalText evaluation_text(const Tokenizer& tokenizer, std::string_view text);

// The model's tokenizer; throws Error(model file, "has no tokenizer ...") when it has none.
Tokenizer model_tokenizer(const Model& model);

// Throws Error("eval", ...) when ctx is too small or larger than the model's context, or the tokens do
// not fill two chunks (the message says how many there are and how many are needed).
PerplexityResult evaluate_perplexity(const Transformer& model, const EvalText& text, const EvalOptions& options);

// KL(base || model) per scored position and the related agreement statistics. Both models must share a
// vocabulary (Error("eval", "vocabulary mismatch ...") otherwise). options.forward's overrides and hook
// apply to `model` only; its executor runs both models' products.
KldResult evaluate_kld(const Transformer& model, const Transformer& base, const EvalText& text,
                       const EvalOptions& options);

}  // namespace qb
