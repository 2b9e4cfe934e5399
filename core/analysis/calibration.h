// Calibration: runs text through the forward pass and summarises the input of every linear layer.
//
// Text: tokenized once with a leading BOS (evaluation_text, CRLF -> LF), cut into consecutive ctx-token
// chunks (the tail that does not fill one is dropped); each chunk's first token is replaced by BOS, as
// for perplexity. min(options.tokens, text) / ctx whole chunks are run, and every position of a chunk
// counts: tokens = chunks × ctx, for every record including the classifier's.
//
// Records: weights that multiply the same input share one record (table in calibration.cpp): q, k, v
// -> "blk.N.attn_qkv" (also the fused tensor's name), ffn_gate, ffn_up -> "blk.N.ffn_up"; every other
// linear weight has a record named after itself ("blk.N.attn_output", "blk.N.ffn_down", "output", or
// "token_embd" for a tied classifier). Per record:
//   - moments of x, a linear histogram of x and a log-spaced histogram of |x|. Their ranges come from
//     the first chunk's absmax a: [-m·a, m·a] and [m·a·1e-8, m·a] (m = histogram_margin); later values
//     outside land in underflow/overflow, so nothing is lost, only binned coarsely;
//   - per channel: absmax, mean |x|, mean x² (llama.cpp's imatrix, the importance vector of encoders)
//     and how many tokens exceed outlier_threshold in |x| (LLM.int8's 6); outlier_channels counts the
//     channels with at least one;
//   - a down-sampled channels × tokens map of |x| (HeatMap: rows = channels, cols = tokens), the max over
//     each block unless token_map.reduce asks for the mean;
//   - the Hessian proxy H = XᵀX / tokens (hessian.h), with full_hessian; its diagonal is mean_sq.
//
// Devices: the forward passes' weight products run on options.executor (ForwardOptions::executor) and the
// Hessians are summed by options.backend (Backend::hessian_sums); with neither, everything runs on the CPU
// (the CPU backend gives the same bytes as none). A device's activations and Hessians agree with the
// CPU's within f32 rounding of the sums (linear_executor.h, backend.h's HessianSums), not bit for bit.
//
// Memory: the summaries are small (a few doubles per channel, the map, the histograms); full Hessians
// take d_in² doubles per record (Llama-7B: 4096² × 3 + 11008² ≈ 1.4 GB per layer). Compensated f32 would
// need as many bytes as f64, so instead the records are split into groups whose Hessians fit in
// hessian_memory_bytes (at least one record per group), and the text is run once per group: peak
// memory is the budget (or one record's Hessian if larger) plus one chunk's activations. Each record is
// handed to the sink as soon as it is complete, after which calibrate() keeps nothing of it.
// Cost: passes × a forward pass over the text; the summaries are collected during the first pass.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/analysis/heat_map.h"
#include "core/analysis/hessian.h"
#include "core/analysis/histogram.h"
#include "core/analysis/moments.h"
#include "core/infer/forward.h"
#include "core/infer/perplexity.h"
#include "core/jobs/job.h"

namespace qb {

class Backend;

struct CalibrationOptions {
    int64_t tokens = 65536;  // wanted; whole chunks only, at most what the text holds
    int64_t ctx = 512;
    int histogram_bins = 256;
    double histogram_margin = 2.0;
    double outlier_threshold = 6.0;
    HeatMapSpec token_map{256, 256, HeatMapReduce::Max};  // max_rows: channel cells, max_cols: token cells
    bool full_hessian = true;
    uint64_t hessian_memory_bytes = uint64_t(4) << 30;
    // With full_hessian: the records that get one (the others are summarised only and take no budget);
    // empty: every record.
    std::vector<std::string> hessian_records;
    LinearExecutor* executor = nullptr;  // the forward passes' weight products (nullptr: the CPU); not owned
    Backend* backend = nullptr;          // Hessian sums (nullptr: the CPU's HessianAccumulator); not owned
};

struct ActivationStats {
    std::string record;
    std::vector<std::string> tensors;  // the weights multiplying this input, in forward order
    int64_t channels = 0;              // d_in
    int64_t tokens = 0;
    Moments moments;
    Histogram histogram;          // linear, of x
    Histogram abs_histogram;      // log-spaced, of |x|
    std::vector<float> abs_max;   // per channel
    std::vector<double> mean_abs;
    std::vector<double> mean_sq;
    std::vector<int64_t> outlier_tokens;  // per channel: tokens with |x| > outlier_threshold
    int64_t outlier_channels = 0;
    HeatMap token_map;                     // channels × tokens
    std::optional<HessianMatrix> hessian;  // with full_hessian
    double hessian_trace = 0;              // trace(H) = Σ mean_sq, always
};

struct CalibrationRun {
    int64_t ctx = 0;
    int64_t chunks = 0;
    int64_t tokens = 0;  // chunks × ctx
    int passes = 0;
    double outlier_threshold = 0;
    std::vector<std::string> records;              // in forward order
    std::map<std::string, std::string> record_of;  // weight tensor -> its input record
};

struct Calibration {
    CalibrationRun run;
    std::vector<ActivationStats> records;  // in forward order

    const ActivationStats* find(const std::string& record) const;
    const ActivationStats& input_of(const std::string& tensor) const;  // throws Error for an unknown tensor
};

// The record a linear weight's input belongs to (see above).
std::string input_record_name(const std::string& tensor);

using ActivationSink = std::function<void(ActivationStats&&)>;

// Throws Error("calibration", ...) for bad options, a ctx beyond the model's context, a text shorter than
// one chunk or non-finite activations; Cancelled when cancelled. threads <= 0: all hardware threads.
CalibrationRun calibrate(const Transformer& model, const EvalText& text, const CalibrationOptions& options,
                         const ActivationSink& sink, JobControl* control = nullptr, int threads = 0);
// Keeps every record (and its full Hessian) in memory: for models whose Hessians fit.
Calibration calibrate(const Transformer& model, const EvalText& text, const CalibrationOptions& options,
                      JobControl* control = nullptr, int threads = 0);

}  // namespace qb
