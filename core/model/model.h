// Model = architecture description + hyper-parameters + canonical tensor views + tokenizer source.
// load_model() accepts a GGUF file, a llama2.c .bin, a .safetensors file, a sharded index
// (model.safetensors.index.json) or a Hugging Face folder (config.json + safetensors); whatever the
// source, the same network yields identical canonical tensors (names, shapes, row layout, values).
// Names, shapes and layouts follow GGUF (see core/model/architecture.h). When the file has no separate
// output matrix, `output` is a second view of token_embd's bytes and hparams.tied_embeddings is set
// (also set when a file stores a byte-identical copy). Hyper-parameters missing from the source are
// taken from tensor shapes, then from the architecture's defaults.
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
    // Descriptive key/values shown by `inspect`: format, architecture, parameters, tensor types, tokenizer
    // (and name, when the file states one).
    std::map<std::string, std::string> metadata;
    std::shared_ptr<const void> gguf;  // the parsed GgufFile when the source is GGUF (tokenizer, export)

    const TensorView* find(const std::string& canonical_name) const;
    const TensorView& tensor(const std::string& canonical_name) const;  // throws Error naming the model
    int64_t parameter_count() const;  // a tied output is counted once
    uint64_t stored_bytes() const;    // bytes shared by several views are counted once
};

Model load_model(const std::filesystem::path& path);  // throws Error naming the file and the problem

}  // namespace qb
