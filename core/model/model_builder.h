// Internal to core/model: turns the tensors of one source file (GGUF, safetensors, llama2.c) into a
// Model's canonical tensors and hyper-parameters by consulting the architecture table. It maps names,
// resolves hyper-parameters (source values, then tensor shapes, then the architecture's defaults),
// checks every shape against them, absorbs Hugging Face layouts without copying (row_order,
// stored_transposed; only a 1-D bias that needs a permutation is gathered into a small owned buffer),
// orders tensors canonically and adds `output` as a view of `token_embd` when the output is tied.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/model/architecture.h"
#include "core/model/model.h"

namespace qb {

struct SourceTensor {
    std::string name;            // name inside the file
    std::vector<int64_t> shape;  // PyTorch order, as stored
    const FormatInfo* format = nullptr;  // nullptr: a storage type Quantbench cannot decode
    std::span<const uint8_t> data;
    std::string file;
    std::shared_ptr<const void> keep_alive;
};

// A hyper-parameter as the source states it, or nullopt when it does not.
using HParamLookup = std::function<std::optional<double>(HParam)>;

// Fills model.tensors and model.hparams. model.source_format and model.source_path must be set;
// errors name model.source_path.
void build_canonical_model(Model& model, const Architecture& arch, const std::vector<SourceTensor>& sources,
                           const HParamLookup& stated);

}  // namespace qb
