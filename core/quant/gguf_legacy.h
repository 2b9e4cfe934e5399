// The linear legacy block types q4_0, q4_1, q5_0, q5_1 and q8_0 at code level, for algorithms that choose
// the codes of a block themselves (GPTQ) and must store them exactly as ggml's layout does. A block's
// 32 codes c (0 .. highest) decode, with its stored f16 scale d (and minimum m), as the decoder computes:
//   symmetric types: (c - offset) * d     (q8_0: offset 128, stored as the int8 c - 128)
//   affine types:    c * d + m
#pragma once
#include <cstdint>
#include <optional>

#include "core/quant/format.h"

namespace qb::gguf {

struct LegacyBlockGrid {
    float d = 0, m = 0;
    int offset = 0, highest = 0;
    bool affine = false;
    float value(int code) const { return affine ? float(code) * d + m : float(code - offset) * d; }
};

// The grid of an encoded block of format f; nullopt unless f is one of the five types.
std::optional<LegacyBlockGrid> legacy_block_grid(const FormatInfo& f, const uint8_t* block);
// Writes a block of format f holding the grid's d (and m) and the 32 codes.
void write_legacy_block(const FormatInfo& f, const LegacyBlockGrid& grid, const uint8_t* codes, uint8_t* block);

}  // namespace qb::gguf
