// Export to a Hugging Face folder: model.safetensors with Hugging Face names and layouts (rotary q/k rows
// permuted back to rotate-half order, Conv1D weights transposed, fused QKV regrouped per head, as the
// architecture table says), config.json (the source folder's, updated, or built from the hyper-parameters)
// and the source folder's tokenizer and generation files (Hugging Face sources only). A tied output left
// out of the plan stays tied (no lm_head.weight, tie_word_embeddings true).
//   export_safetensors: "fake-quant": every tensor decoded from its output format and stored as the plan's
//       dtype (f16, bf16, f32), loadable by any tool.
//   export_gptq: the GPTQ v1 packed layout (core/export/gptq_pack.h) for block linear layers on integer
//       grids, every other tensor stored as the plan's dtype; quantize_config.json (and config.json's
//       quantization_config) give the most common bits / group size and GPTQModel "dynamic" rules for
//       the modules that differ ("+:^module$": {bits, group_size, ...}) or stay unquantized ("-:^module$").
// The folder is assembled beside the target and renamed into place: a failure leaves nothing. An
// existing target folder must be empty.
#pragma once
#include <cstdint>

#include "core/export/export_plan.h"

namespace qb {

uint64_t export_safetensors(const Model& source, const ExportPlan& plan, const JobControl* job = nullptr,
                            Model* intended = nullptr);
uint64_t export_gptq(const Model& source, const ExportPlan& plan, const JobControl* job = nullptr,
                     Model* intended = nullptr);

}  // namespace qb
