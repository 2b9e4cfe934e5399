// AWQ scale folding: the plan transformation that makes an AWQ-quantized model a standard model any tool runs.
//
// AWQ (core/algo/awq.h) stores Q(W·diag(s)) for a linear layer W; the layer then needs its input divided by s.
// As AutoAWQ and llm-awq do, 1/s is folded into whatever produces that input, so no extra operation remains:
//   attn_in   q, k, v (or the fused attn_qkv) read attn_norm's output: one common s per input channel,
//             attn_norm's weight (and a LayerNorm's bias) divided by s;
//   attn_out  attn_output reads the attention output, a per-head copy of v's output rows: v's rows (and
//             bias) divided by s, mapped through the heads. Under GQA a v row feeds n_head / n_head_kv
//             columns of attn_output, so those columns must share one scale: the search ties them by
//             searching on the mean activation magnitude of each such group (AutoAWQ skips o_proj under
//             GQA instead; tying is exact and keeps the scaling);
//   ffn_in    ffn_gate and ffn_up read ffn_norm's output: one common s, folded into ffn_norm;
//   ffn_out   ffn_down reads act(gate) * up in gated MLPs (SwiGLU, GeGLU): ffn_up's rows (and bias) divided
//             by s. In non-gated MLPs (gpt2, gpt-neox) down reads act(up) with a nonlinear act, through
//             which 1/s cannot pass: that group cannot fold.
// Groups whose consumers share an input share one s, searched on the sum of their objectives
// (awq_shared_scales: the concatenated q|k|v or gate|up loss, as AutoAWQ's auto_scale). Within a block,
// attn_out is searched before attn_in and ffn_out before ffn_in, so the q|k|v and gate|up searches see v
// and up with the rows they will actually be quantized with.
//
// Fallbacks (stated in `unscaled`, the tensor then takes rtn, as tensors without calibration input do):
// an AWQ tensor in a group that cannot fold (non-gated ffn_down), in a group where another quantized
// consumer uses another algorithm (one folded scale applies to all consumers of the producer), or
// outside every group (the classifier and the embeddings: their scales would fold into output_norm or
// the embedding lookup; as in AutoAWQ, they are not scaled). Kept and plain-float consumers of a folded
// group are stored as W·diag(s) (exact up to the storage rounding).
//
// Memory: the search holds one group's weights (at most q, k and v of one block); the result holds one
// scale vector per folded tensor (the size of its rows and columns), not weights. The exporter's producer
// applies the fold to one tensor at a time.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/export/export_plan.h"
#include "core/model/model.h"
#include "core/plan/resolved_plan.h"

namespace qb {

class JobControl;

struct AwqProducer {
    std::string tensor;  // channel p of the group is row (2-D) or element (1-D) offset + p of this tensor
    int64_t offset = 0;
    int64_t length = 0;  // the tensor's rows (2-D) or elements (1-D)
};

// One place where a shared scale can fold: consumers' input columns are multiplied by s, producers' channels divided.
struct AwqFoldGroup {
    std::string name;                    // "blk.3.attn_in", "blk.3.attn_out", "blk.3.ffn_in", "blk.3.ffn_out"
    std::vector<std::string> consumers;  // weights reading the input, in forward order
    std::vector<AwqProducer> producers;
    std::vector<int64_t> channel_of;     // per consumer input column: its producer channel (columns sharing one share s)
    std::string problem;                 // why 1/s cannot fold here; empty when it can
};

// The groups of every block of the model, in forward order (attn_in, attn_out, ffn_in, ffn_out per block).
std::vector<AwqFoldGroup> awq_fold_groups(const Model& model);

struct AwqTensorFold {
    std::vector<float> row_divisors;   // per row of a matrix, per element of a vector; empty: none
    std::vector<float> column_scales;  // per input column; empty: none
};

struct AwqFolding {
    std::map<std::string, AwqTensorFold> tensors;
    std::map<std::string, std::string> unscaled;  // AWQ-planned tensors that take rtn instead -> why
    std::map<std::string, double> alpha;          // folded group -> the α its search chose

    const AwqTensorFold* find(const std::string& tensor) const;
    // The algorithm a tensor planned with `algorithm` runs: rtn for an unscaled AWQ tensor.
    std::string algorithm_for(const std::string& tensor, const std::string& algorithm) const;
    // What AWQ multiplies the tensor's columns by (QuantizeRequest::input_scales); empty when none.
    std::span<const float> input_scales(const std::string& tensor) const;
    // The tensor's canonical values with its fold applied: rows divided, and columns multiplied when
    // `with_columns` (false for the AWQ quantization, which applies input_scales itself).
    std::vector<float> apply(const std::string& tensor, const std::vector<int64_t>& shape, std::vector<float> values,
                             bool with_columns) const;
};

// Folds the given scales (per group, one per consumer input column; empty: the group is not folded). Channels
// the group's columns share take the scale of their first column. Throws Error("awq", ...) for a group that
// cannot fold or scales of the wrong size or not finite and positive.
AwqFolding fold_awq_scales(const std::vector<AwqFoldGroup>& groups, const std::vector<std::vector<float>>& scales);

// Searches the scales of every group with an AWQ consumer in `plan` (calibration: the consumers' input
// statistics) and folds them; see above for what cannot fold. Throws Error for an AWQ group without
// calibration, Cancelled when cancelled.
AwqFolding plan_awq_folding(const Model& model, const ResolvedPlan& plan, const Calibration* calibration,
                            const JobControl* job = nullptr, int threads = 0);

// An export producer writing `source` with its fold applied, encoded round-to-nearest in `format` (kept
// and plain-float tensors: norms, biases, a kept consumer).
TensorProducer awq_folded_producer(const AwqFolding& folding, const TensorView& source, const FormatInfo& format,
                                   int threads = 0);

}  // namespace qb
