// From a resolved plan to the exporters (core/export/export_plan.h): which tensors go into the output,
// in which formats, and the exact size of the GGUF file that export writes, known before anything runs.
#pragma once
#include <cstdint>
#include <filesystem>

#include "core/export/export_plan.h"
#include "core/model/model.h"
#include "core/plan/resolved_plan.h"

namespace qb {

// Every planned tensor in model order (a tied output included, as llama.cpp's files have it) with its
// resolved format; kept tensors of the safetensors targets go in the exporter's dtype. Producers are left
// empty, so the exporter keeps the source bytes or encodes them round-to-nearest; the quantize pipeline
// sets producers that run each tensor's algorithm instead (the sizes do not change). Throws
// Error("target", ...) for the analysis target, which has no exporter.
ExportPlan export_plan_of(const ResolvedPlan& plan, const std::filesystem::path& output);

struct GgufFileSize {
    uint64_t file_bytes = 0;
    uint64_t data_offset = 0;   // header, metadata, tensor infos and the padding before the data
    uint64_t tensor_bytes = 0;  // the plan's total_bytes(); the rest is alignment padding
};

// Exact size of the GGUF file `quantbench-cli export` writes for this plan: the exporter's own layout
// and metadata (the GGUF source's key/values, or those built from the architecture and tokenizer, plus
// Quantbench's provenance keys with the default summary). Throws Error for a plan of another target.
GgufFileSize gguf_file_size(const ResolvedPlan& plan, const Model& model);

}  // namespace qb
