// Model = architecture description + hyper-parameters + canonical tensor views + tokenizer source.
// load_model() accepts a GGUF file, a llama2.c .bin, a .safetensors file, a sharded index
// (model.safetensors.index.json) or a Hugging Face folder (config.json + safetensors); whatever the
// source, the same network yields identical canonical tensors (names, shapes, row layout, values).
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor/tensor_view.h"

namespace qb {

struct HyperParams {
    int64_t n_vocab = 0;
    int64_t n_embd = 0;       // hidden size
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;
    int64_t n_ff = 0;         // feed-forward width
    int64_t n_ctx = 0;        // trained context length
    int64_t rope_dims = 0;    // rotary dimensions per head (partial rotary for gpt-neox)
    double rope_theta = 10000.0;
    double norm_eps = 1e-5;
    bool tied_embeddings = false;
    bool parallel_residual = false;  // gpt-neox use_parallel_residual
};

enum class SourceFormat { Gguf, Safetensors, Llama2c };

// Where the tokenizer lives: a GGUF's metadata, a tokenizer.model / tokenizer.json file, or a llama2.c tok*.bin.
struct TokenizerSource {
    enum class Kind { None, GgufMetadata, SentencePieceModel, TokenizerJson, Llama2cBin } kind = Kind::None;
    std::filesystem::path path;
};

class Model {
public:
    std::string architecture;  // registry name: "llama", "mistral", "qwen2", "gpt2", "gpt-neox"
    SourceFormat source_format = SourceFormat::Gguf;
    std::filesystem::path source_path;
    HyperParams hparams;
    std::vector<TensorView> tensors;  // canonical order: token_embd, blocks in order, output_norm, output
    TokenizerSource tokenizer;
    std::map<std::string, std::string> metadata;  // descriptive key/values shown by `inspect`
    std::shared_ptr<const void> gguf;  // the parsed GgufFile when the source is GGUF (tokenizer, export)

    const TensorView* find(const std::string& canonical_name) const;
    const TensorView& tensor(const std::string& canonical_name) const;  // throws Error naming the model
    int64_t parameter_count() const;
    uint64_t stored_bytes() const;
};

Model load_model(const std::filesystem::path& path);  // throws Error naming the file and the problem

}  // namespace qb
