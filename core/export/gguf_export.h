// Export of any model (GGUF, Hugging Face safetensors, llama2.c source) to a GGUF file with per-tensor
// ggml types, loadable by llama.cpp.
//
// Metadata: from a GGUF source, its key/values in file order, with general.file_type set to the llama.cpp
// file type of the type that stores most weights, general.quantization_version = 2 when any tensor is a
// ggml block type (removed otherwise), and a quantbench.* provenance group (version, source, plan). For
// other sources they are built from the architecture table and hyper-parameters (<arch>.* keys) and the
// tokenizer (tokenizer.ggml.*), as llama.cpp's converter writes them. The plan's extra entries (such as
// general.name) are written as strings, replacing a key of the same name.
// Tensors: canonical name + ".weight" (biases keep ".bias"), dims = reversed canonical shape, in plan order.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/export/export_plan.h"
#include "core/io/gguf_writer.h"

namespace qb {

std::string gguf_tensor_name(std::string_view canonical);

// llama.cpp's llama_ftype for the type storing most weights of 2-D tensors (LLAMA_FTYPE_MOSTLY_Q8_0 = 7 ...).
uint32_t llama_file_type(const std::vector<PlannedTensor>& tensors);

std::vector<GgufKv> gguf_export_metadata(const Model& source, const ExportPlan& plan,
                                         const std::vector<PlannedTensor>& tensors);
GgufLayout gguf_export_layout(const Model& source, const ExportPlan& plan);

uint64_t export_gguf(const Model& source, const ExportPlan& plan, const JobControl* job = nullptr,
                     Model* intended = nullptr);

}  // namespace qb
