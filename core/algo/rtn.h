// Round to nearest: the format's own encoder, the baseline every other algorithm is measured against;
// and "imatrix", the same encoder weighted by the activations' mean x² as llama.cpp's imatrix does.
#pragma once
#include "core/algo/algorithm.h"

namespace qb {

// Options: clip (bool, default false): int grids search the clipping range that minimises the (importance-
// weighted) squared error, as the format's _clip variant does; other formats ignore it.
QuantizeResult run_rtn(const QuantizeRequest& request);
// Importance = mean x²; int grids run their clipping search with it (without one they would ignore the
// weights). No options.
QuantizeResult run_imatrix(const QuantizeRequest& request);

// Shared by the algorithms that end with the format's encoder:
// the format whose encoder searches the clipping range (an int grid's _clip variant, same layout), else f.
const FormatInfo& clip_searching(const FormatInfo& f);
// result.bytes = encoder(values), result.dequantized = decode(bytes); values is rows x cols. backend: where
// (nullptr: the registry codecs on `threads` threads).
void encode_and_decode(const FormatInfo& encoder, const float* values, int64_t rows, int64_t cols,
                       const float* importance, int threads, QuantizeResult& result, Backend* backend = nullptr);

}  // namespace qb
