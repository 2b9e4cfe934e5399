// ggml's 32-value block types q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl and the 256-value iq4_xs, encoded and
// decoded exactly like ggml-quants.c: without an importance vector like the quantize_row_*_ref paths,
// with one like the importance-weighted searches llama-quantize runs with an imatrix.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/formulas/formulas.h"
#include "core/quant/format_families.h"
#include "core/quant/gguf_block.h"
#include "core/quant/gguf_legacy.h"
#include "core/quant/gguf_scale_search.h"
#include "core/util/error.h"

namespace qb {
namespace {

using gguf::load_half;
using gguf::nearest_int;
using gguf::store_half;

constexpr int kBlock = 32;
constexpr int kChunkBlocks = 16;  // blocks whose importance-weighted searches run together

// ---------------------------------------------------------------------------------------------------
// q4_0, q4_1, q5_0, q5_1, q8_0: the block formulas of core/formulas/gguf_legacy.inc (shared with the GPU
// kernels), and for the 4/5-bit types with an importance vector ggml's weighted scale searches
// (quantize_row_q{4,5}_{0,1}_impl), whose codes the same formulas store. ggml ignores the importance
// vector for q8_0.

using BlockEncodeFn = void (*)(const float* x, uint8_t* bytes);
using BlockDecodeFn = void (*)(const uint8_t* bytes, float* x);
using SymmetricStoreFn = void (*)(float d, const uint8_t* codes, uint8_t* bytes);
using AffineStoreFn = void (*)(float d, float m, const uint8_t* codes, uint8_t* bytes);

struct LegacyType {
    int bits;
    BlockEncodeFn encode_block;
    BlockDecodeFn decode_block;
    SymmetricStoreFn store_symmetric = nullptr;  // x = d * (code - 2^(bits-1))
    AffineStoreFn store_affine = nullptr;        // x = d * code + m

    bool weighted() const { return store_symmetric || store_affine; }
};

constexpr LegacyType kQ4_0{4, formula::q4_0_encode_block, formula::q4_0_decode_block, formula::q4_0_store_block};
constexpr LegacyType kQ4_1{4, formula::q4_1_encode_block, formula::q4_1_decode_block, nullptr, formula::q4_1_store_block};
constexpr LegacyType kQ5_0{5, formula::q5_0_encode_block, formula::q5_0_decode_block, formula::q5_0_store_block};
constexpr LegacyType kQ5_1{5, formula::q5_1_encode_block, formula::q5_1_decode_block, nullptr, formula::q5_1_store_block};
constexpr LegacyType kQ8_0{8, formula::q8_0_encode_block, formula::q8_0_decode_block};

// `count` blocks of 32 values with importance-derived weights.
template <const LegacyType& T>
void encode_blocks_weighted(int count, const float* x, const float* weight, uint8_t* y, size_t block_bytes) {
    const int levels = 1 << T.bits;
    float scales[kChunkBlocks], mins[kChunkBlocks];
    // A run-time test: GCC 12 with -fsanitize=undefined cannot compare an inline function's address
    // with nullptr in a constant expression (`if constexpr` fails to compile in the sanitizer build).
    if (T.store_affine != nullptr) {
        uint8_t L[kChunkBlocks * kBlock];
        gguf::search_affine_scales(count, kBlock, levels - 1, x, weight, L, scales, mins, {-0.9f, 0.05f, 36, false});
        for (int b = 0; b < count; ++b) T.store_affine(scales[b], -mins[b], L + b * kBlock, y + b * block_bytes);
    } else {
        int8_t L[kChunkBlocks * kBlock];  // codes 0 .. levels - 1
        gguf::search_symmetric_scales(count, kBlock, levels / 2, x, weight, L, scales);
        for (int b = 0; b < count; ++b)
            T.store_symmetric(scales[b], reinterpret_cast<const uint8_t*>(L + b * kBlock), y + b * block_bytes);
    }
}

template <const LegacyType& T>
void encode_legacy(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    const int64_t blocks = n / kBlock;
    if (!importance || !T.weighted()) {
        for (int64_t b = 0; b < blocks; ++b) T.encode_block(x + b * kBlock, y + b * f.block_bytes);
        return;
    }
    const float sigma2 = gguf::sum_of_squares(x, n) / float(n);
    float weight[kChunkBlocks * kBlock];
    for (int64_t first = 0; first < blocks; first += kChunkBlocks) {
        const int count = int(std::min<int64_t>(kChunkBlocks, blocks - first));
        const int64_t at = first * kBlock;
        gguf::importance_weights(x + at, importance + at, count * kBlock, sigma2, weight);
        encode_blocks_weighted<T>(count, x + at, weight, y + first * f.block_bytes, f.block_bytes);
    }
}

template <const LegacyType& T>
void decode_legacy(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kBlock; ++b) T.decode_block(y + b * f.block_bytes, x + b * kBlock);
}

// ---------------------------------------------------------------------------------------------------
// iq4_nl / iq4_xs: 4-bit indices into a fixed non-linear 16-value grid. iq4_nl: f16 d + 16 nibble bytes
// per 32 values. iq4_xs: per 256 values f16 d, then a 6-bit scale per 32 (low nibbles in scales_l, high
// 2 bits in the u16 scales_h), then 128 nibble bytes; x = d * (scale - 32) * grid[q].

constexpr std::array<float, 16> kIq4Grid = [] {
    std::array<float, 16> grid{};
    for (int i = 0; i < 16; ++i) grid[size_t(i)] = float(formula::iq4_grid[i]);
    return grid;
}();
constexpr int kIq4Tries = 7;
constexpr int kSuperBlock = 256;
constexpr size_t kIq4NlBytes = 18;
constexpr size_t kIq4XsBytes = 136;

// Weights of `groups` 32-value groups: importance-scaled with sigma2 from the whole super-block of n
// values, else x^2.
void grid_weights(const float* x, const float* importance, int groups, float sigma2, float* weight) {
    if (importance) gguf::importance_weights(x, importance, groups * kBlock, sigma2, weight);
    else
        for (int j = 0; j < groups * kBlock; ++j) weight[j] = x[j] * x[j];
}

float grid_sigma2(const float* x, int n) { return gguf::sum_of_squares(x, n) * (2.f / float(n)); }

// The scales are searched in SIMD lanes (gguf_scale_search.cpp), then the blocks stored with the formulas
// of core/formulas/iq4.inc, which the GPU's encoders run as well.
void encode_iq4_nl(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                   const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    float weight[kChunkBlocks * kBlock], scales[kChunkBlocks];
    const int64_t blocks = n / kBlock;
    for (int64_t first = 0; first < blocks; first += kChunkBlocks) {
        const int count = int(std::min<int64_t>(kChunkBlocks, blocks - first));
        const float* xc = x + first * kBlock;
        for (int b = 0; b < count; ++b) {
            const int64_t at = b * kBlock;  // each iq4_nl block is its own super-block
            grid_weights(xc + at, importance ? importance + first * kBlock + at : nullptr, 1,
                         grid_sigma2(xc + at, kBlock), weight + at);
        }
        gguf::search_grid_scales(count, kBlock, kIq4Grid.data(), kIq4Tries, xc, weight, scales);
        for (int b = 0; b < count; ++b) formula::iq4_nl_store_block(xc + b * kBlock, scales[b], y + (first + b) * kIq4NlBytes);
    }
}

void encode_iq4_xs(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                   const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    constexpr int kBatch = 2;  // super-blocks whose group searches run together
    constexpr int kGroups = kSuperBlock / kBlock;
    float weight[kBatch * kSuperBlock], scales[kBatch * kGroups];
    const int64_t superblocks = n / kSuperBlock;
    for (int64_t first = 0; first < superblocks; first += kBatch) {
        const int count = int(std::min<int64_t>(kBatch, superblocks - first));
        const float* xc = x + first * kSuperBlock;
        for (int s = 0; s < count; ++s) {
            const int64_t at = s * kSuperBlock;
            grid_weights(xc + at, importance ? importance + first * kSuperBlock + at : nullptr, kGroups,
                         grid_sigma2(xc + at, kSuperBlock), weight + at);
        }
        gguf::search_grid_scales(count * kGroups, kBlock, kIq4Grid.data(), kIq4Tries, xc, weight, scales);
        for (int s = 0; s < count; ++s)
            formula::iq4_xs_store_block(xc + s * kSuperBlock, scales + s * kGroups, y + (first + s) * kIq4XsBytes);
    }
}

void decode_iq4_nl(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kBlock; ++b) formula::iq4_nl_decode_block(y + b * kIq4NlBytes, x + b * kBlock);
}

void decode_iq4_xs(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t g = 0; g < n / kBlock; ++g)
        formula::iq4_xs_decode_group(y + g / (kSuperBlock / kBlock) * kIq4XsBytes, int(g % (kSuperBlock / kBlock)), x + g * kBlock);
}

struct LegacyEntry {
    int ggml_type;
    const LegacyType& type;
};
constexpr LegacyEntry kLegacyTypes[] = {{2, kQ4_0}, {3, kQ4_1}, {6, kQ5_0}, {7, kQ5_1}, {8, kQ8_0}};

const LegacyType* legacy_type(const FormatInfo& f) {
    for (const LegacyEntry& entry : kLegacyTypes)
        if (f.kind == FormatKind::GgufBlock && entry.ggml_type == f.ggml_type) return &entry.type;
    return nullptr;
}

}  // namespace

namespace gguf {

std::optional<LegacyBlockGrid> legacy_block_grid(const FormatInfo& f, const uint8_t* block) {
    const LegacyType* type = legacy_type(f);
    if (!type) return std::nullopt;
    LegacyBlockGrid grid;
    grid.d = load_half(block);
    grid.affine = type->store_affine != nullptr;
    if (grid.affine) grid.m = load_half(block + 2);
    grid.highest = (1 << type->bits) - 1;
    grid.offset = grid.affine ? 0 : 1 << (type->bits - 1);
    return grid;
}

void write_legacy_block(const FormatInfo& f, const LegacyBlockGrid& grid, const uint8_t* codes, uint8_t* block) {
    const LegacyType* type = legacy_type(f);
    if (!type) throw Error("format " + f.name, "not a linear legacy block type");
    if (type->store_affine) return type->store_affine(grid.d, grid.m, codes, block);
    if (type->store_symmetric) return type->store_symmetric(grid.d, codes, block);
    store_half(block, grid.d);  // q8_0: one int8 per value
    for (int j = 0; j < kBlock; ++j) block[2 + j] = uint8_t(codes[j] - grid.offset);
}

}  // namespace gguf

void add_gguf_legacy_formats(std::vector<FormatInfo>& t) {
    using gguf::block_format;
    t.push_back(block_format("q4_0", 2, "ggml Q4_0: 32 values, 4-bit symmetric codes, f16 scale",
                             encode_legacy<kQ4_0>, decode_legacy<kQ4_0>));
    t.push_back(block_format("q4_1", 3, "ggml Q4_1: 32 values, 4-bit codes, f16 scale and minimum",
                             encode_legacy<kQ4_1>, decode_legacy<kQ4_1>));
    t.push_back(block_format("q5_0", 6, "ggml Q5_0: 32 values, 5-bit symmetric codes, f16 scale",
                             encode_legacy<kQ5_0>, decode_legacy<kQ5_0>));
    t.push_back(block_format("q5_1", 7, "ggml Q5_1: 32 values, 5-bit codes, f16 scale and minimum",
                             encode_legacy<kQ5_1>, decode_legacy<kQ5_1>));
    t.push_back(block_format("q8_0", 8, "ggml Q8_0: 32 values, 8-bit symmetric codes, f16 scale",
                             encode_legacy<kQ8_0>, decode_legacy<kQ8_0>));
    t.push_back(block_format("iq4_nl", 20, "ggml IQ4_NL: 32 values, 4-bit indices into a non-linear grid, f16 scale",
                             encode_iq4_nl, decode_iq4_nl));
    t.push_back(block_format("iq4_xs", 23,
                             "ggml IQ4_XS: 256 values, 4-bit non-linear grid, 6-bit scale per 32, f16 super-scale",
                             encode_iq4_xs, decode_iq4_xs));
}

}  // namespace qb
