// Where a canonical tensor goes in a Hugging Face checkpoint of its architecture: the inverse of what
// load_model() applies, read from the same architecture table (names, row permutations, transposes).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace qb {

struct HfPlacement {
    std::string name;                // "model.layers.0.self_attn.q_proj.weight"
    std::vector<int64_t> shape;      // as stored: [in, out] for a transposed (Conv1D) weight
    std::vector<int32_t> row_order;  // canonical row (bias element) i is stored row hf_row[i]; empty: same order
    bool transposed = false;
};

// nullopt for tensors without a Hugging Face name (GGUF-only tensors such as rope_freqs).
std::optional<HfPlacement> hf_placement(const Model& model, const std::string& canonical);

// The module a weight belongs to: its name without ".weight" ("model.layers.0.self_attn.q_proj").
std::string hf_module_name(const HfPlacement& placement);

// Canonical row-major values (shape rows x cols; a 1-D tensor is one row) rearranged into the stored layout
// (returned as they are when the layouts agree).
std::vector<float> to_hf_layout(const HfPlacement& placement, std::vector<float> canonical, int64_t rows, int64_t cols);

}  // namespace qb
