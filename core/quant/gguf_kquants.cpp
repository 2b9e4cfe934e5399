// ggml's K-quants q2_k, q3_k, q4_k, q5_k, q6_k: 256-value super-blocks whose 16 or 8 sub-block scales are
// themselves quantized against one or two f16 super-scales. Encoded and decoded exactly like
// ggml-quants.c: without an importance vector like quantize_row_*_K_ref, with one like the
// importance-weighted quantize_row_*_K_impl that llama-quantize runs with an imatrix. The sub-block scale
// searches run in SIMD lanes (gguf_scale_search.cpp); quantizing the scales and storing the block are the
// formulas of core/formulas/kquants.inc, which the GPU's encoders run as well.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/formulas/formulas.h"
#include "core/quant/format_families.h"
#include "core/quant/gguf_block.h"
#include "core/quant/gguf_scale_search.h"

namespace qb {
namespace {

using gguf::load_half;
using gguf::nearest_int;
using gguf::store_half;

constexpr int kSuper = 256;
// Super-blocks encoded together, so that their sub-block scale searches fill the search lanes.
constexpr int kBatch = 2;

// Second pass of q6_k: codes for the scales as stored. Symmetric: x ~ d * l, l in [-half, half), stored as l + half.
void requantize_symmetric(const float* x, int n, float d, int half, int8_t* L) {
    for (int i = 0; i < n; ++i) L[i] = int8_t(std::clamp(nearest_int(x[i] / d), -half, half - 1) + half);
}

// Importance weights of `count` super-blocks (sigma2 = sigma2_factor * mean x^2 of each super-block) and
// the per-group sums of the weights of consecutive groups of `group` values (ggml's sw[]).
void superblock_weights(int count, const float* x, const float* importance, float sigma2_factor, int group,
                        float* weights, float* group_sums) {
    for (int s = 0; s < count; ++s)
        formula::k_importance_weights(x + s * kSuper, importance + s * kSuper, sigma2_factor, weights + s * kSuper);
    for (int j = 0; j < count * kSuper / group; ++j) {
        group_sums[j] = 0;
        for (int l = 0; l < group; ++l) group_sums[j] += weights[group * j + l];
    }
}

// ---------------------------------------------------------------------------------------------------
// q2_k: scales[16] (low nibble: scale, high nibble: min of each 16 values), qs[64], f16 d, f16 dmin;
// x = d * scale * q - dmin * min.

constexpr size_t kQ2Bytes = 84;
constexpr size_t kQ2CodesAt = 16;
constexpr size_t kQ2DAt = 80;
constexpr size_t kQ2DminAt = 82;
constexpr int kQ2Groups = 16;

// quantize_row_q2_K_ref: |x|-weighted mean-absolute-error searches, scales relative to the largest.
void encode_q2_k_plain(int count, const float* x, uint8_t* y) {
    uint8_t L[kBatch * kSuper], scale_bytes[kQ2Groups];
    float weights[kBatch * kSuper] = {}, scales[kBatch * kQ2Groups], mins[kBatch * kQ2Groups], d_dmin[2];
    for (int i = 0; i < count * kSuper; ++i) weights[i] = std::fabs(x[i]);
    gguf::search_affine_scales(kQ2Groups * count, 16, 3, x, weights, L, scales, mins, {-0.5f, 0.1f, 15, true});
    for (int s = 0; s < count; ++s, y += kQ2Bytes) {
        formula::q2_k_plain_scales(scales + kQ2Groups * s, mins + kQ2Groups * s, scale_bytes, d_dmin);
        formula::q2_k_store_block(x + s * kSuper, scale_bytes, d_dmin, L + s * kSuper, y);
    }
}

// quantize_row_q2_K_impl: importance-weighted searches, then the 4-bit scales and mins searched too.
void encode_q2_k_weighted(int count, const float* x, const float* importance, uint8_t* y) {
    uint8_t L[kBatch * kSuper], scale_bytes[kQ2Groups];
    float weights[kBatch * kSuper], scales[kBatch * kQ2Groups], mins[kBatch * kQ2Groups];
    float group_weights[kBatch * kQ2Groups], d_dmin[2];
    superblock_weights(count, x, importance, 1, 16, weights, group_weights);
    gguf::search_affine_scales(kQ2Groups * count, 16, 3, x, weights, L, scales, mins, {-0.9f, 0.05f, 36, false});
    for (int s = 0; s < count; ++s, y += kQ2Bytes) {
        const int at = kQ2Groups * s;
        formula::q2_k_weighted_scales(scales + at, mins + at, group_weights + at, scale_bytes, d_dmin);
        formula::q2_k_store_block(x + s * kSuper, scale_bytes, d_dmin, L + s * kSuper, y);
    }
}

void decode_q2_k_block(const uint8_t* y, float* x) {
    const float d = load_half(y + kQ2DAt);
    const float dmin = load_half(y + kQ2DminAt);
    const uint8_t* q = y + kQ2CodesAt;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int part = 0; part < 2; ++part, ++is) {
                const float dl = d * float(y[is] & 0xF);
                const float ml = dmin * float(y[is] >> 4);
                for (int l = 0; l < 16; ++l) *x++ = dl * float((q[16 * part + l] >> shift) & 3) - ml;
            }
}

// ---------------------------------------------------------------------------------------------------
// q3_k: hmask[32] (third bit of value l + 32*k in bit k of byte l), qs[64] (2 low bits), scales[12]
// (16 signed 6-bit scales: low nibbles in bytes 0-7, high 2 bits in bytes 8-11), f16 d;
// x = d * (scale - 32) * (q - 4).

constexpr size_t kQ3Bytes = 110;
constexpr size_t kQ3CodesAt = 32;
constexpr size_t kQ3ScalesAt = 96;
constexpr size_t kQ3DAt = 108;

int q3_scale(const uint8_t* s, int j) {
    const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return (low | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
}

// quantize_row_q3_K_ref: x^2-weighted refinement per 16 values, scales relative to the largest.
void encode_q3_k_plain(int count, const float* x, uint8_t* y) {
    for (int s = 0; s < count; ++s, x += kSuper, y += kQ3Bytes) {
        uint8_t L[kSuper], stored[16];
        float scales[16];
        for (int j = 0; j < 16; ++j) scales[j] = formula::q3_k_search_scale(x + 16 * j, L + 16 * j);
        const float d = formula::q3_k_plain_scales(scales, stored);
        formula::q3_k_store_block(x, stored, d, L, y);
    }
}

// quantize_row_q3_K_impl: importance-weighted searches, then the 6-bit scales searched too.
void encode_q3_k_weighted(int count, const float* x, const float* importance, uint8_t* y) {
    int8_t L[kBatch * kSuper], stored[kBatch * 16];  // codes 0..7 and 0..63
    float weights[kBatch * kSuper], scales[kBatch * 16], group_weights[kBatch * 16], d[kBatch];
    superblock_weights(count, x, importance, 2, 16, weights, group_weights);
    gguf::search_symmetric_scales(16 * count, 16, 4, x, weights, L, scales);
    gguf::search_symmetric_scales(count, 16, 32, scales, group_weights, stored, d);
    for (int s = 0; s < count; ++s, y += kQ3Bytes)
        formula::q3_k_store_block(x + s * kSuper, reinterpret_cast<const uint8_t*>(stored + 16 * s), d[s],
                                  reinterpret_cast<uint8_t*>(L + s * kSuper), y);
}

void decode_q3_k_block(const uint8_t* y, float* x) {
    const float d = load_half(y + kQ3DAt);
    const uint8_t* hmask = y;
    const uint8_t* q = y + kQ3CodesAt;
    int is = 0, bit = 0;
    for (int half = 0; half < 2; ++half, q += 32)
        for (int shift = 0; shift < 8; shift += 2, ++bit)
            for (int part = 0; part < 2; ++part, ++is) {
                const float dl = d * float(q3_scale(y + kQ3ScalesAt, is));
                for (int l = 16 * part; l < 16 * part + 16; ++l)
                    *x++ = dl * float(((q[l] >> shift) & 3) - ((hmask[l] >> bit) & 1 ? 0 : 4));
            }
}

// ---------------------------------------------------------------------------------------------------
// q4_k / q5_k: f16 d, f16 dmin, scales[12] (8 unsigned 6-bit scale/min pairs), [qh[32]: fifth bits for
// q5_k], qs[128] (low nibbles: in each 64 values byte l holds values l and l + 32);
// x = d * scale * q - dmin * min.

constexpr size_t kK4ScalesAt = 4;

void k4_scale_min(int j, const uint8_t* s, int& scale, int& min) {
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

template <int Bits>
struct KAffine {
    static constexpr int kMax = (1 << Bits) - 1;
    static constexpr size_t kBytes = Bits == 4 ? 144 : 176;
    static constexpr size_t kHighBitsAt = 16;
    static constexpr size_t kNibblesAt = Bits == 4 ? 16 : 48;
    // The reference encoder's search: (rmin, rdelta, nstep).
    static constexpr float kRmin = Bits == 4 ? -1.f : -0.5f;
    static constexpr int kSteps = Bits == 4 ? 20 : 15;

    // quantize_row_q{4,5}_K_ref: per 32 values a search weighted by rms + |x|, 6-bit scales and mins
    // relative to the largest.
    static void encode_plain(int count, const float* x, uint8_t* y) {
        uint8_t L[kBatch * kSuper], ls[8], lm[8];
        float weights[kBatch * kSuper], scales[kBatch * 8], mins[kBatch * 8], d_dmin[2];
        for (int j = 0; j < 8 * count; ++j) {
            const float av_x = std::sqrt(gguf::sum_of_squares(x + 32 * j, 32) / 32);
            for (int l = 32 * j; l < 32 * j + 32; ++l) weights[l] = av_x + std::fabs(x[l]);
        }
        gguf::search_affine_scales(8 * count, 32, kMax, x, weights, L, scales, mins, {kRmin, 0.1f, kSteps, false});
        for (int s = 0; s < count; ++s, y += kBytes) {
            formula::k_affine_plain_scales(scales + 8 * s, mins + 8 * s, ls, lm, d_dmin);
            formula::k_affine_store_block(Bits, x + s * kSuper, ls, lm, d_dmin, L + s * kSuper, y);
        }
    }

    // quantize_row_q{4,5}_K_impl: importance-weighted searches, then the 6-bit scales and mins searched too.
    static void encode_weighted(int count, const float* x, const float* importance, uint8_t* y) {
        uint8_t L[kBatch * kSuper], ls[8], lm[8];
        float weights[kBatch * kSuper], scales[kBatch * 8], mins[kBatch * 8], group_weights[kBatch * 8], d_dmin[2];
        superblock_weights(count, x, importance, 2, 32, weights, group_weights);
        gguf::search_affine_scales(8 * count, 32, kMax, x, weights, L, scales, mins, {-0.9f, 0.05f, 36, false});
        for (int s = 0; s < count; ++s, y += kBytes) {
            const int at = 8 * s;
            formula::k_affine_weighted_scales(scales + at, mins + at, group_weights + at, ls, lm, d_dmin);
            formula::k_affine_store_block(Bits, x + s * kSuper, ls, lm, d_dmin, L + s * kSuper, y);
        }
    }

    static void decode_block(const uint8_t* y, float* x) {
        const float d = load_half(y);
        const float dmin = load_half(y + 2);
        const uint8_t* qs = y + kNibblesAt;
        for (int pair = 0; pair < 4; ++pair, qs += 32)
            for (int nibble = 0; nibble < 2; ++nibble) {
                int scale, min;
                k4_scale_min(2 * pair + nibble, y + kK4ScalesAt, scale, min);
                const float dl = d * float(scale);
                const float ml = dmin * float(min);
                const int shift = 4 * nibble, high_bit = 2 * pair + nibble;
                for (int l = 0; l < 32; ++l) {
                    int q = (qs[l] >> shift) & 0xF;
                    if constexpr (Bits == 5) q += ((y[kHighBitsAt + l] >> high_bit) & 1) << 4;
                    *x++ = dl * float(q) - ml;
                }
            }
    }
};

// ---------------------------------------------------------------------------------------------------
// q6_k: ql[128] (low nibbles), qh[64] (high 2 bits), scales[16] (int8 per 16 values), f16 d;
// x = d * scale * (q - 32). In each 128 values, ql byte l holds values l / l+64 and l+32 / l+96
// (bytes l and l+32), qh byte l holds the high bits of values l, l+32, l+64, l+96.

constexpr size_t kQ6Bytes = 210;
constexpr size_t kQ6HighAt = 128;
constexpr size_t kQ6ScalesAt = 192;
constexpr size_t kQ6DAt = 208;

void finish_q6_k(const float* x, const float* scales, int8_t* L, uint8_t* y) {
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
        if (std::fabs(scales[j]) > max_abs_scale) {
            max_abs_scale = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    if (max_abs_scale < gguf::kGroupMaxEps) {
        std::memset(y, 0, kQ6Bytes);
        return;
    }
    const float iscale = -128.f / max_scale;
    store_half(y + kQ6DAt, 1 / iscale);
    const float d = load_half(y + kQ6DAt);
    for (int j = 0; j < 16; ++j) {
        const int8_t scale = int8_t(std::min(127, nearest_int(iscale * scales[j])));
        y[kQ6ScalesAt + j] = uint8_t(scale);
        const float dl = d * float(scale);
        if (!dl) continue;
        requantize_symmetric(x + 16 * j, 16, dl, 32, L + 16 * j);
    }
    uint8_t* ql = y;
    uint8_t* qh = y + kQ6HighAt;
    for (int j = 0; j < kSuper; j += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = uint8_t((q1 & 0xF) | (q3 & 0xF) << 4);
            ql[l + 32] = uint8_t((q2 & 0xF) | (q4 & 0xF) << 4);
            qh[l] = uint8_t((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
}

// quantize_row_q6_K_ref / _impl: x^2-weighted searches per 16 values, or the importance vector itself as
// the weights (ggml does not scale it by magnitude for q6_k); 8-bit scales relative to the largest.
void encode_q6_k_weighted(int count, const float* x, const float* importance, uint8_t* y) {
    int8_t L[kBatch * kSuper];
    float scales[kBatch * 16];
    gguf::search_symmetric_scales(16 * count, 16, 32, x, importance, L, scales);
    for (int s = 0; s < count; ++s) finish_q6_k(x + s * kSuper, scales + 16 * s, L + s * kSuper, y + s * kQ6Bytes);
}

void encode_q6_k_plain(int count, const float* x, uint8_t* y) { encode_q6_k_weighted(count, x, nullptr, y); }

void decode_q6_k_block(const uint8_t* y, float* x) {
    int8_t codes[kSuper];  // unpacked first: two simple loops vectorise where one mixed loop does not
    for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = y + 64 * half;
        const uint8_t* qh = y + kQ6HighAt + 32 * half;
        int8_t* q = codes + 128 * half;
        for (int l = 0; l < 32; ++l) {
            q[l] = int8_t(((ql[l] & 0xF) | (qh[l] & 3) << 4) - 32);
            q[l + 32] = int8_t(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
            q[l + 64] = int8_t(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            q[l + 96] = int8_t(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
    const float d = load_half(y + kQ6DAt);
    const int8_t* scales = reinterpret_cast<const int8_t*>(y + kQ6ScalesAt);
    for (int group = 0; group < 16; ++group) {
        const float dl = d * float(scales[group]);  // ggml: d * scale * q, left to right
        for (int l = 16 * group; l < 16 * group + 16; ++l) x[l] = dl * float(codes[l]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Row codecs: every super-block is independent; the importance vector is per column.

using PlainBatchFn = void (*)(int count, const float* x, uint8_t* y);
using WeightedBatchFn = void (*)(int count, const float* x, const float* importance, uint8_t* y);
using DecodeBlockFn = void (*)(const uint8_t* y, float* x);

template <WeightedBatchFn Weighted, PlainBatchFn Plain>
void encode_row(const FormatInfo& f, const float* x, int64_t n, uint8_t* y, const float* importance, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    const int64_t blocks = n / kSuper;
    for (int64_t first = 0; first < blocks; first += kBatch) {
        const int count = int(std::min<int64_t>(kBatch, blocks - first));
        const int64_t at = first * kSuper;
        if (importance) Weighted(count, x + at, importance + at, y + first * f.block_bytes);
        else Plain(count, x + at, y + first * f.block_bytes);
    }
}

template <DecodeBlockFn Decode>
void decode_row(const FormatInfo& f, const uint8_t* y, int64_t n, float* x, const uint8_t*) {
    gguf::require_whole_blocks(f, n);
    for (int64_t b = 0; b < n / kSuper; ++b, x += kSuper, y += f.block_bytes) Decode(y, x);
}

}  // namespace

void add_gguf_kquant_formats(std::vector<FormatInfo>& t) {
    using gguf::block_format;
    t.push_back(block_format("q2_k", 10, "ggml Q2_K: 256 values, 2-bit codes, 4-bit scale and min per 16",
                             encode_row<encode_q2_k_weighted, encode_q2_k_plain>, decode_row<decode_q2_k_block>));
    t.push_back(block_format("q3_k", 11, "ggml Q3_K: 256 values, 3-bit symmetric codes, 6-bit scale per 16",
                             encode_row<encode_q3_k_weighted, encode_q3_k_plain>, decode_row<decode_q3_k_block>));
    t.push_back(block_format("q4_k", 12, "ggml Q4_K: 256 values, 4-bit codes, 6-bit scale and min per 32",
                             encode_row<KAffine<4>::encode_weighted, KAffine<4>::encode_plain>,
                             decode_row<KAffine<4>::decode_block>));
    t.push_back(block_format("q5_k", 13, "ggml Q5_K: 256 values, 5-bit codes, 6-bit scale and min per 32",
                             encode_row<KAffine<5>::encode_weighted, KAffine<5>::encode_plain>,
                             decode_row<KAffine<5>::decode_block>));
    t.push_back(block_format("q6_k", 14, "ggml Q6_K: 256 values, 6-bit symmetric codes, 8-bit scale per 16",
                             encode_row<encode_q6_k_weighted, encode_q6_k_plain>, decode_row<decode_q6_k_block>));
}

}  // namespace qb
