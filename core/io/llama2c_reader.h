// llama2.c checkpoint reader. Legacy v0 files: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len; a negative vocab_size means an untied classifier follows), then fp32 weights in
// llama2.c order with the RoPE tables (skipped) before the optional classifier. Version 1 files: a
// 256-byte header starting with the magic "ak42", version 1, the same 7 ints and a shared-classifier
// byte, then the fp32 weights in version-1 order. Version 2 (int8 groups with all scales at the end)
// is refused with a clear error. The file size must match the header exactly.
// Tensors are named as in Meta's / llama2.c's model.py ("layers.3.attention.wq.weight"), PyTorch shapes,
// Meta (interleaved rotary) row layout; data stays in the memory map.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/util/mapped_file.h"

namespace qb {

struct Llama2cConfig {
    int version = 0;  // 0 = legacy header, 1 = "ak42" header
    int64_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
    bool shared_classifier = true;
};

struct Llama2cTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::span<const uint8_t> data;  // fp32 values
};

class Llama2cFile {
public:
    explicit Llama2cFile(const std::filesystem::path& path);  // throws Error naming the file and the problem

    const Llama2cConfig& config() const { return config_; }
    const std::vector<Llama2cTensor>& tensors() const { return tensors_; }  // in file order
    // tok<vocab_size>.bin, else tokenizer.bin, in the checkpoint's folder.
    std::optional<std::filesystem::path> tokenizer_path() const;
    std::string name() const { return file_->name(); }
    std::shared_ptr<const MappedFile> mapping() const { return file_; }

private:
    std::shared_ptr<const MappedFile> file_;
    Llama2cConfig config_;
    std::vector<Llama2cTensor> tensors_;
};

}  // namespace qb
