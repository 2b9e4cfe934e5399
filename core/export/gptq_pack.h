// GPTQ v1 packing (the "gptq" checkpoint format of AutoGPTQ and GPTQModel) of integer-grid tensors.
// A linear layer W [out, in] quantized on a b-bit grid with groups of G input columns becomes
//   qweight int32 [in*b/32, out]  the codes of output column o along the input dimension, one continuous
//                                 LSB-first stream of b-bit values in 32-bit words (3-bit values straddle
//                                 words, exactly as AutoGPTQ packs them);
//   qzeros  int32 [groups, out*b/32]  zero point - 1 per (group, output column), the same stream along the
//                                 output dimension (v1 convention: loaders add the 1 back);
//   scales  f16 [groups, out];
//   g_idx   int32 [in]            the group of each input column (act-order permutes which columns share one);
// and W[o][i] = scales[g][o] * (code[i][o] - zero[g][o]) with g = g_idx[i]. Symmetric grids store zero
// 2^(b-1). Per-channel grids are one group spanning the whole input (group_size -1 in configs).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/quant/format.h"

namespace qb {

struct GptqModule {
    int bits = 0;
    int64_t group_size = 0;  // -1: per-channel
    int64_t in = 0, out = 0;
    std::vector<int32_t> qweight, qzeros, g_idx;
    std::vector<uint16_t> scales;  // f16 bits

    int64_t groups() const { return group_size < 0 ? 1 : in / group_size; }
};

// Packs a tensor stored as `grid` (an integer grid; the registry layout of core/quant/int_grid.cpp,
// canonical rows = output channels). act_order (optional): stored column j of the bytes is input column
// act_order[j]. out_order (optional): canonical row r becomes output column out_order[r] (Hugging Face
// row order). Throws Error(subject, ...) when a group's zero point is 0, which v1 cannot store.
GptqModule pack_gptq(const FormatInfo& grid, std::span<const uint8_t> bytes, int64_t rows, int64_t cols,
                     const std::vector<int32_t>& act_order, const std::vector<int32_t>& out_order,
                     const std::string& subject);

// The dequantized values in canonical layout [out, in] (canonical row r read from output column out_order[r]).
std::vector<float> unpack_gptq(const GptqModule& module, const std::vector<int32_t>& out_order);

// Bits, group size, symmetry and act-order a GPTQModel loader applies to `module` under `config`
// (quantize_config.json, keys in file order): the first matching "dynamic" rule decides ("-:regex" skips
// the module, "+:regex" or a bare regex overrides the base values; Python re.match semantics).
// quantized == false for a skipped module.
struct GptqModuleSettings {
    bool quantized = true;
    int bits = 0;
    int64_t group_size = 0;
    bool sym = false;
    bool desc_act = false;
};
GptqModuleSettings gptq_module_settings(const nlohmann::ordered_json& config, const std::string& module);

}  // namespace qb
