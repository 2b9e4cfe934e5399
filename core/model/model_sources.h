// Internal to core/model: one loader per source format, each reading its file(s), choosing the
// architecture and handing the tensors to build_canonical_model(). load_model() picks the loader.
#pragma once
#include <filesystem>

#include "core/model/model.h"

namespace qb {

Model load_gguf_model(const std::filesystem::path& path);
// A .safetensors file or a model.safetensors.index.json; config.json must be in the same folder.
Model load_hf_model(const std::filesystem::path& path);
Model load_llama2c_model(const std::filesystem::path& path);

}  // namespace qb
