// ggml's 32-value block types q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl and the 256-value iq4_xs, encoded and
// decoded exactly like ggml-quants.c: without an importance vector like the quantize_row_*_ref paths,
// with one like the importance-weighted searches llama-quantize runs with an imatrix.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/quant/format_families.h"
#include "core/quant/gguf_block.h"
#include "core/quant/gguf_scale_search.h"

namespace qb {
namespace {

using gguf::load_half;
using gguf::nearest_int;
using gguf::store_half;

constexpr int kBlock = 32;
constexpr int kHalf = kBlock / 2;
constexpr int kChunkBlocks = 16;  // blocks whose importance-weighted searches run together

// ---------------------------------------------------------------------------------------------------
// q4_0, q4_1, q5_0, q5_1: `Bits`-bit codes, symmetric (x = d * (q - 2^(Bits-1))) or affine (x = d * q + m).
// Block: f16 d, [f16 m if affine], [u32 fifth bits if Bits == 5], 16 bytes of low nibbles where byte j
// holds values j and j + 16.

template <int Bits, bool Affine>
struct Legacy {
    static constexpr int kLevels = 1 << Bits;
    static constexpr int kOffset = Affine ? 0 : kLevels / 2;
    static constexpr size_t kMinAt = 2;
    static constexpr size_t kHighBitsAt = Affine ? 4 : 2;
    static constexpr size_t kNibblesAt = kHighBitsAt + (Bits == 5 ? 4 : 0);

    template <typename Code>
    static void pack(const Code* L, uint8_t* y) {
        uint32_t high_bits = 0;
        for (int j = 0; j < kHalf; ++j) {
            y[kNibblesAt + j] = uint8_t((L[j] & 0x0F) | ((L[j + kHalf] & 0x0F) << 4));
            high_bits |= uint32_t((L[j] >> 4) & 1) << j;
            high_bits |= uint32_t((L[j + kHalf] >> 4) & 1) << (j + kHalf);
        }
        if constexpr (Bits == 5) std::memcpy(y + kHighBitsAt, &high_bits, 4);
    }

    // ggml's quantize_row_q{4,5}_{0,1}_ref: scale from the extremes, round by truncating q + 0.5.
    static void encode_block_plain(const float* x, uint8_t* y) {
        uint8_t L[kBlock];
        if constexpr (Affine) {
            const auto [lo, hi] = std::minmax_element(x, x + kBlock);
            const float min = *lo;
            const float d = (*hi - min) / float(kLevels - 1);
            const float id = d ? 1.0f / d : 0.0f;
            store_half(y, d);
            store_half(y + kMinAt, min);
            for (int j = 0; j < kBlock; ++j) L[j] = uint8_t(std::min(kLevels - 1, int(int8_t((x[j] - min) * id + 0.5f))));
        } else {
            float max = 0, amax = 0;
            for (int j = 0; j < kBlock; ++j)
                if (amax < std::fabs(x[j])) {
                    amax = std::fabs(x[j]);
                    max = x[j];
                }
            const float d = max / float(-kOffset);
            const float id = d ? 1.0f / d : 0.0f;
            store_half(y, d);
            const float bias = float(kOffset) + 0.5f;
            for (int j = 0; j < kBlock; ++j) L[j] = uint8_t(std::min(kLevels - 1, int(int8_t(x[j] * id + bias))));
        }
        pack(L, y);
    }

    // ggml's quantize_row_q{4,5}_{0,1}_impl: importance-weighted scale search per block, `count` blocks.
    static void encode_blocks_weighted(int count, const float* x, const float* weight, uint8_t* y, size_t block_bytes) {
        float scales[kChunkBlocks], mins[kChunkBlocks];
        if constexpr (Affine) {
            uint8_t L[kChunkBlocks * kBlock];
            gguf::search_affine_scales(count, kBlock, kLevels - 1, x, weight, L, scales, mins, {-0.9f, 0.05f, 36, false});
            for (int b = 0; b < count; ++b, y += block_bytes) {
                store_half(y, scales[b]);
                store_half(y + kMinAt, -mins[b]);
                pack(L + b * kBlock, y);
            }
        } else {
            int8_t L[kChunkBlocks * kBlock];
            gguf::search_symmetric_scales(count, kBlock, kOffset, x, weight, L, scales);
            for (int b = 0; b < count; ++b, y += block_bytes) {
                store_half(y, scales[b]);
                pack(L + b * kBlock, y);
            }
        }
    }

    static void encode(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                       const uint8_t*) {
        gguf::require_whole_blocks(f, n);
        const int64_t blocks = n / kBlock;
        if (!importance) {
            for (int64_t b = 0; b < blocks; ++b) encode_block_plain(x + b * kBlock, y + b * f.block_bytes);
            return;
        }
        const float sigma2 = gguf::sum_of_squares(x, n) / float(n);
        float weight[kChunkBlocks * kBlock];
        for (int64_t first = 0; first < blocks; first += kChunkBlocks) {
            const int count = int(std::min<int64_t>(kChunkBlocks, blocks - first));
            const int64_t at = first * kBlock;
            gguf::importance_weights(x + at, importance + at, count * kBlock, sigma2, weight);
            encode_blocks_weighted(count, x + at, weight, y + first * f.block_bytes, f.block_bytes);
        }
    }

    static void decode(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
        gguf::require_whole_blocks(f, n);
        for (int64_t b = 0; b < n / kBlock; ++b, y += f.block_bytes, x += kBlock) {
            const float d = load_half(y);
            const float m = Affine ? load_half(y + kMinAt) : 0.0f;
            uint32_t high_bits = 0;
            if constexpr (Bits == 5) std::memcpy(&high_bits, y + kHighBitsAt, 4);
            for (int j = 0; j < kHalf; ++j) {
                const uint8_t packed = y[kNibblesAt + j];
                const int q0 = (packed & 0x0F) | int((high_bits >> j) & 1) << 4;
                const int q1 = (packed >> 4) | int((high_bits >> (j + kHalf)) & 1) << 4;
                if constexpr (Affine) {
                    x[j] = float(q0) * d + m;
                    x[j + kHalf] = float(q1) * d + m;
                } else {
                    x[j] = float(q0 - kOffset) * d;
                    x[j + kHalf] = float(q1 - kOffset) * d;
                }
            }
        }
    }
};

// ---------------------------------------------------------------------------------------------------
// q8_0: f16 d, 32 signed bytes; x = d * q. ggml ignores the importance vector for this type.

constexpr size_t kQ8Bytes = 34;

void encode_q8_0(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float*, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, y += kQ8Bytes) {
        float amax = 0;
        for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        for (int j = 0; j < kBlock; ++j) y[2 + j] = uint8_t(int8_t(std::round(x[j] * id)));
    }
}

void decode_q8_0(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, y += kQ8Bytes) {
        const float d = load_half(y);
        for (int j = 0; j < kBlock; ++j) x[j] = float(int8_t(y[2 + j])) * d;
    }
}

// ---------------------------------------------------------------------------------------------------
// iq4_nl / iq4_xs: 4-bit indices into a fixed non-linear 16-value grid. iq4_nl: f16 d + 16 nibble bytes
// per 32 values. iq4_xs: per 256 values f16 d, then a 6-bit scale per 32 (low nibbles in scales_l, high
// 2 bits in the u16 scales_h), then 128 nibble bytes; x = d * (scale - 32) * grid[q].

constexpr float kIq4Grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int kIq4Tries = 7;
constexpr int kSuperBlock = 256;
constexpr size_t kIq4NlBytes = 18;
constexpr size_t kIq4XsBytes = 136;
constexpr size_t kXsScalesHighAt = 2;
constexpr size_t kXsScalesLowAt = 4;
constexpr size_t kXsNibblesAt = 8;

// Weights of `groups` 32-value groups: importance-scaled with sigma2 from the whole super-block of n
// values, else x^2.
void grid_weights(const float* x, const float* importance, int groups, float sigma2, float* weight) {
    if (importance) gguf::importance_weights(x, importance, groups * kBlock, sigma2, weight);
    else
        for (int j = 0; j < groups * kBlock; ++j) weight[j] = x[j] * x[j];
}

float grid_sigma2(const float* x, int n) { return gguf::sum_of_squares(x, n) * (2.f / float(n)); }

void pack_nibbles(const uint8_t* L, uint8_t* q) {
    for (int j = 0; j < kHalf; ++j) q[j] = uint8_t(L[j] | (L[j + kHalf] << 4));
}

void encode_iq4_nl(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                   const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    float weight[kChunkBlocks * kBlock], scales[kChunkBlocks];
    uint8_t L[kChunkBlocks * kBlock];
    const int64_t blocks = n / kBlock;
    for (int64_t first = 0; first < blocks; first += kChunkBlocks) {
        const int count = int(std::min<int64_t>(kChunkBlocks, blocks - first));
        const float* xc = x + first * kBlock;
        for (int b = 0; b < count; ++b) {
            const int64_t at = b * kBlock;  // each iq4_nl block is its own super-block
            grid_weights(xc + at, importance ? importance + first * kBlock + at : nullptr, 1,
                         grid_sigma2(xc + at, kBlock), weight + at);
        }
        gguf::search_grid_scales(count, kBlock, kIq4Grid, kIq4Tries, xc, weight, scales);
        gguf::assign_grid_codes(count, kBlock, kIq4Grid, xc, scales, L);
        for (int b = 0; b < count; ++b) {
            uint8_t* block = y + (first + b) * kIq4NlBytes;
            store_half(block, scales[b]);
            pack_nibbles(L + b * kBlock, block + 2);
        }
    }
}

// The 6-bit scales of one iq4_xs super-block relative to its largest group scale; returns each group's
// effective scale d * (stored - 32).
void store_iq4_xs_scales(const float* scales, uint8_t* y, float* group_scales) {
    constexpr int kGroups = kSuperBlock / kBlock;
    float max_scale = 0, amax_scale = 0;
    for (int g = 0; g < kGroups; ++g)
        if (std::fabs(scales[g]) > amax_scale) {
            amax_scale = std::fabs(scales[g]);
            max_scale = scales[g];
        }
    const float d = -max_scale / 32;
    store_half(y, d);
    const float id = d ? 1 / d : 0.f;
    uint16_t scales_high = 0;
    std::memset(y + kXsScalesLowAt, 0, 4);
    for (int g = 0; g < kGroups; ++g) {
        const int l = std::clamp(nearest_int(id * scales[g]), -32, 31);
        group_scales[g] = d * float(l);
        const int stored = l + 32;
        y[kXsScalesLowAt + g / 2] |= uint8_t((stored & 0xF) << 4 * (g % 2));
        scales_high |= uint16_t((stored >> 4) << 2 * g);
    }
    std::memcpy(y + kXsScalesHighAt, &scales_high, 2);
}

void encode_iq4_xs(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance,
                   const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    constexpr int kBatch = 2;  // super-blocks whose group searches run together
    constexpr int kGroups = kSuperBlock / kBlock;
    float weight[kBatch * kSuperBlock], scales[kBatch * kGroups], group_scales[kBatch * kGroups];
    uint8_t L[kBatch * kSuperBlock];
    const int64_t superblocks = n / kSuperBlock;
    for (int64_t first = 0; first < superblocks; first += kBatch) {
        const int count = int(std::min<int64_t>(kBatch, superblocks - first));
        const float* xc = x + first * kSuperBlock;
        for (int s = 0; s < count; ++s) {
            const int64_t at = s * kSuperBlock;
            grid_weights(xc + at, importance ? importance + first * kSuperBlock + at : nullptr, kGroups,
                         grid_sigma2(xc + at, kSuperBlock), weight + at);
        }
        gguf::search_grid_scales(count * kGroups, kBlock, kIq4Grid, kIq4Tries, xc, weight, scales);
        for (int s = 0; s < count; ++s)
            store_iq4_xs_scales(scales + s * kGroups, y + (first + s) * kIq4XsBytes, group_scales + s * kGroups);
        gguf::assign_grid_codes(count * kGroups, kBlock, kIq4Grid, xc, group_scales, L);
        for (int g = 0; g < count * kGroups; ++g)
            pack_nibbles(L + g * kBlock, y + (first + g / kGroups) * kIq4XsBytes + kXsNibblesAt + (g % kGroups) * kHalf);
    }
}

void decode_grid_group(const uint8_t* q, float scale, float* x) {
    for (int j = 0; j < kHalf; ++j) {
        x[j] = scale * kIq4Grid[q[j] & 0x0F];
        x[j + kHalf] = scale * kIq4Grid[q[j] >> 4];
    }
}

void decode_iq4_nl(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, y += kIq4NlBytes) decode_grid_group(y + 2, load_half(y), x);
}

void decode_iq4_xs(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t sb = 0; sb < n / kSuperBlock; ++sb, y += kIq4XsBytes) {
        const float d = load_half(y);
        uint16_t scales_high;
        std::memcpy(&scales_high, y + kXsScalesHighAt, 2);
        for (int g = 0; g < kSuperBlock / kBlock; ++g, x += kBlock) {
            const int low = (y[kXsScalesLowAt + g / 2] >> 4 * (g % 2)) & 0xF;
            const int high = (scales_high >> 2 * g) & 3;
            decode_grid_group(y + kXsNibblesAt + g * kHalf, d * float((low | high << 4) - 32), x);
        }
    }
}

}  // namespace

void add_gguf_legacy_formats(std::vector<FormatInfo>& t) {
    using gguf::block_format;
    t.push_back(block_format("q4_0", 2, "ggml Q4_0: 32 values, 4-bit symmetric codes, f16 scale",
                             Legacy<4, false>::encode, Legacy<4, false>::decode));
    t.push_back(block_format("q4_1", 3, "ggml Q4_1: 32 values, 4-bit codes, f16 scale and minimum",
                             Legacy<4, true>::encode, Legacy<4, true>::decode));
    t.push_back(block_format("q5_0", 6, "ggml Q5_0: 32 values, 5-bit symmetric codes, f16 scale",
                             Legacy<5, false>::encode, Legacy<5, false>::decode));
    t.push_back(block_format("q5_1", 7, "ggml Q5_1: 32 values, 5-bit codes, f16 scale and minimum",
                             Legacy<5, true>::encode, Legacy<5, true>::decode));
    t.push_back(block_format("q8_0", 8, "ggml Q8_0: 32 values, 8-bit symmetric codes, f16 scale", encode_q8_0,
                             decode_q8_0));
    t.push_back(block_format("iq4_nl", 20, "ggml IQ4_NL: 32 values, 4-bit indices into a non-linear grid, f16 scale",
                             encode_iq4_nl, decode_iq4_nl));
    t.push_back(block_format("iq4_xs", 23,
                             "ggml IQ4_XS: 256 values, 4-bit non-linear grid, 6-bit scale per 32, f16 super-scale",
                             encode_iq4_xs, decode_iq4_xs));
}

}  // namespace qb
