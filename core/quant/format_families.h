// Internal: each format family appends its entries to the registry table (see format.h).
#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "core/quant/format.h"

namespace qb {

void add_plain_formats(std::vector<FormatInfo>& table);        // plain_formats.cpp: f32 f16 bf16 f64 i8 u8 i16 i32 i64
void add_gguf_legacy_formats(std::vector<FormatInfo>& table);  // gguf_legacy.cpp: q4_0 q4_1 q5_0 q5_1 q8_0 iq4_nl iq4_xs
void add_gguf_kquant_formats(std::vector<FormatInfo>& table);  // gguf_kquants.cpp: q2_k q3_k q4_k q5_k q6_k
void add_grid_formats(std::vector<FormatInfo>& table);         // int_grid.cpp: preset integer grids
void add_scaled_float_formats(std::vector<FormatInfo>& table); // scaled_float.cpp: nf4 fp4 fp8_e4m3 fp8_e5m2 mxfp4 mxint8

// int_grid.cpp: builds the entry for an integer-grid name such as "int4_g128_asym"; nullopt if the
// name is not a grid name or is invalid (bits outside 2..8, group < 1).
std::optional<FormatInfo> parse_grid_format(std::string_view name);

}  // namespace qb
