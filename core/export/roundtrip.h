// Round-trip validation of an export: the written output is read back with Quantbench's own readers and
// compared with the intended model export_model() returned (what the exporter was asked to write).
//   hyper-parameters: the reloaded ones equal the intended ones.
//   tensors (the same names on both sides):
//     gguf         stored bytes identical, same ggml type;
//     safetensors  reloaded values equal the intended decoded values rounded to the plan's dtype, bit for bit;
//     gptq         packed layers unpacked from qweight/qzeros/scales/g_idx equal the intended decoded values
//                  exactly, with the bits and group size that quantize_config.json (dynamic rules included)
//                  gives each module; other tensors as for safetensors.
//   logits: a few tokens through the forward pass of the intended and of the reloaded model. They must be
//     identical when every tensor reloaded exactly; otherwise (weights rounded to f16/bf16) their largest
//     difference must stay within logit_tolerance = r * max |intended logit|, r = 1/256 for f16 and 1/32 for
//     bf16 (8 and 4 times the differences measured on stories260K: 0.0079 of 0.066 for int4 fake-quant in
//     f16, 0.118 of 0.53 for bf16).
// Any mismatch throws Error(output, "tensor '<name>': <what differs>").
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/export/export_plan.h"

namespace qb {

struct RoundTripOptions {
    std::vector<int32_t> tokens;  // empty: 16 tokens spread over the vocabulary
    int threads = 0;
};

struct TensorRoundTrip {
    std::string name;
    std::string format;       // intended output format
    bool exact = true;        // bytes or values identical to the intended ones (false: equal after dtype rounding)
    double max_abs_diff = 0;  // largest |reloaded - intended| decoded value
};

struct RoundTripReport {
    std::filesystem::path output;
    std::vector<TensorRoundTrip> tensors;
    int64_t tokens = 0;
    double max_logit_diff = 0;
    double logit_tolerance = 0;
};

// The written output read back as a model (GGUF and safetensors through load_model(); GPTQ folders by
// unpacking each module). `intended` supplies the architecture for GPTQ folders.
Model reload_export(const ExportPlan& plan, const Model& intended);

RoundTripReport validate_roundtrip(const Model& intended, const ExportPlan& plan, const RoundTripOptions& options = {});

}  // namespace qb
