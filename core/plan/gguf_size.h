// The size of the GGUF file that exporting a resolved plan produces, computed before anything runs:
// 24-byte header + metadata key/values + tensor infos, padded to the alignment, then every tensor's data
// padded to the alignment (GGUF v3 as ggml's gguf writer lays it out).
//
// How exact: tensor infos, data and padding are exact for a file holding the planned tensors under their
// GGUF names (canonical + ".weight"; biases as named). The metadata is
//   - a GGUF source: its own key/values with general.quantization_version and general.file_type set
//     (u32), as llama-quantize copies them: exact (llama.cpp's stories260K files match to the byte);
//   - any other source: an estimate of what a converter writes (general.architecture, general.name,
//     file type and quantization version, the architecture's hyper-parameter keys, the tokenizer's
//     model, tokens, scores, token types, merges, special ids and add_bos/add_eos flags); keys an exporter
//     adds beyond those are missing, and the name is the model's stated name or the file's stem.
#pragma once
#include <cstdint>
#include <string>

#include "core/io/gguf_reader.h"
#include "core/model/model.h"
#include "core/plan/resolved_plan.h"

namespace qb {

struct GgufSizeEstimate {
    uint64_t header_bytes = 24;      // magic, version, tensor count, key/value count
    uint64_t metadata_bytes = 0;     // key/value pairs
    uint64_t tensor_info_bytes = 0;  // names, dimensions, types, offsets
    uint64_t data_bytes = 0;         // tensor data: the plan's total_bytes()
    uint64_t padding_bytes = 0;      // alignment of the data section and after every tensor
    uint64_t alignment = 32;
    bool exact = false;              // metadata copied from a GGUF source
    std::string basis;               // where the metadata comes from, for display

    uint64_t total() const { return header_bytes + metadata_bytes + tensor_info_bytes + data_bytes + padding_bytes; }
};

// Throws Error("gguf size", ...) when the plan was resolved for another target.
GgufSizeEstimate estimate_gguf_size(const ResolvedPlan& plan, const Model& model);

// Serialized size of one key/value pair.
uint64_t gguf_kv_bytes(const std::string& key, const GgufValue& value);

}  // namespace qb
