// Synthetic Hugging Face llama folders (config.json + model.safetensors) of any size, written in a
// streaming way (one tensor chunk in memory), for memory-bound and throughput checks on realistic shapes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace qbtest {

struct SyntheticLlama {
    int64_t vocab = 32000;
    int64_t embd = 4096;
    int64_t ff = 11008;
    int64_t layers = 2;
    int64_t heads = 32;
    int64_t heads_kv = 32;
    std::string dtype = "F16";  // F32, F16 or BF16
    uint64_t seed = 1;
};

// Writes folder/config.json and folder/model.safetensors (tied embeddings: no lm_head). Values are
// approximately gaussian with std 0.02 plus a few large outliers per tensor. Returns the file size.
uint64_t write_synthetic_llama(const std::filesystem::path& folder, const SyntheticLlama& spec);

}  // namespace qbtest
