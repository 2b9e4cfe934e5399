#include "core/quant/gguf_scale_search.h"

#include <algorithm>

#include "core/quant/gguf_block.h"

// The lane vectors below cross only internal functions, so the notice that their calling convention
// depends on the target's vector width (-Wpsabi, e.g. without -march=native) does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace qb::gguf {
namespace {

// Groups searched side by side, one per lane of a GCC/Clang vector: each vector operation is kLanes
// independent IEEE float operations, so every lane computes exactly what ggml's scalar code computes
// for its group (the library builds with -ffp-contract=off, so nothing is fused).
constexpr int kLanes = 16;
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));
using LaneInts = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));  // also lane masks (0 / -1)

Lanes to_float(const LaneInts& v) { return __builtin_convertvector(v, Lanes); }
LaneInts clamp(const LaneInts& v, int lo, int hi) {
    const LaneInts low = v < lo ? LaneInts{} + lo : v;
    return low > hi ? LaneInts{} + hi : low;
}
Lanes abs(const Lanes& v) { return (Lanes)((LaneInts)v & 0x7fffffff); }

LaneInts nearest_int(const Lanes& v) { return round_through_mantissa<LaneInts>(v); }

// Up to kLanes groups transposed, so that x[i] holds value i of every group; unused lanes repeat group 0.
struct Chunk {
    int groups = 0;
    int n = 0;
    Lanes x[kMaxSearchGroup];
    Lanes w[kMaxSearchGroup];
};

// weights == nullptr: x^2 (ggml's default weighting).
void load_chunk(Chunk& c, int groups, int n, const float* x, const float* weights) {
    c.groups = groups;
    c.n = n;
    for (int g = 0; g < kLanes; ++g) {
        const int source = g < groups ? g : 0;
        for (int i = 0; i < n; ++i) {
            const float v = x[source * n + i];
            c.x[i][g] = v;
            c.w[i][g] = weights ? weights[source * n + i] : v * v;
        }
    }
}

// Lanes where `take` is set adopt the candidate codes.
void adopt_codes(int n, const LaneInts& take, const Lanes* candidate, Lanes* codes) {
    for (int i = 0; i < n; ++i) codes[i] = take ? candidate[i] : codes[i];
}

// ---------------------------------------------------------------------------------------------------
// Symmetric search (make_qx_quants with rmse_type 1).

struct SymmetricFit {
    Lanes sumlx{};
    Lanes suml2{};
};

// Codes l in [-nmax, nmax) for inverse scales iscale, and the sums of the least-squares scale.
SymmetricFit fit_symmetric(const Chunk& c, int nmax, const Lanes& iscale, Lanes* codes) {
    SymmetricFit fit;
    for (int i = 0; i < c.n; ++i) {
        const Lanes l = to_float(clamp(nearest_int(iscale * c.x[i]), -nmax, nmax - 1));
        codes[i] = l;
        fit.sumlx += c.w[i] * c.x[i] * l;
        fit.suml2 += c.w[i] * l * l;
    }
    return fit;
}

void search_symmetric_chunk(const Chunk& c, int nmax, int8_t* L, float* scales) {
    Lanes max{}, amax{};
    for (int i = 0; i < c.n; ++i) {
        const LaneInts larger = abs(c.x[i]) > amax;
        amax = larger ? abs(c.x[i]) : amax;
        max = larger ? c.x[i] : max;
    }
    Lanes codes[kMaxSearchGroup], candidate[kMaxSearchGroup];
    SymmetricFit fit = fit_symmetric(c, nmax, -float(nmax) / max, codes);
    Lanes scale = fit.suml2 != 0 ? fit.sumlx / fit.suml2 : Lanes{};
    Lanes best = scale * fit.sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        fit = fit_symmetric(c, nmax, -(float(nmax) + 0.1f * float(is)) / max, candidate);
        const LaneInts better = (fit.suml2 > 0) & (fit.sumlx * fit.sumlx > best * fit.suml2);
        adopt_codes(c.n, better, candidate, codes);
        scale = better ? fit.sumlx / fit.suml2 : scale;
        best = better ? scale * fit.sumlx : best;
    }
    for (int g = 0; g < c.groups; ++g) {
        const bool zero = amax[g] < kGroupMaxEps;
        scales[g] = zero ? 0.f : scale[g];
        for (int i = 0; i < c.n; ++i) L[g * c.n + i] = zero ? 0 : int8_t(codes[i][g] + float(nmax));
    }
}

// ---------------------------------------------------------------------------------------------------
// Affine search (make_qkx2_quants / make_qkx3_quants).

// Codes l in [0, nmax] of (x - min) * iscale.
void affine_codes(const Chunk& c, int nmax, const Lanes& iscale, const Lanes& min, Lanes* codes) {
    for (int i = 0; i < c.n; ++i) codes[i] = to_float(clamp(nearest_int(iscale * (c.x[i] - min)), 0, nmax));
}

// Weighted error of the codes: sum of w * |diff| (use_mad) or w * diff^2.
Lanes affine_error(const Chunk& c, const Lanes* codes, const Lanes& scale, const Lanes& min, bool use_mad) {
    Lanes error{};
    for (int i = 0; i < c.n; ++i) {
        const Lanes diff = scale * codes[i] + min - c.x[i];
        error += c.w[i] * (use_mad ? abs(diff) : diff * diff);
    }
    return error;
}

void search_affine_chunk(const Chunk& c, int nmax, const AffineSearch& search, uint8_t* L, float* scales,
                         float* mins) {
    Lanes min = c.x[0], max = c.x[0];
    Lanes sum_w = c.w[0];
    Lanes sum_x = sum_w * c.x[0];
    for (int i = 1; i < c.n; ++i) {
        min = c.x[i] < min ? c.x[i] : min;
        max = c.x[i] > max ? c.x[i] : max;
        sum_w += c.w[i];
        sum_x += c.w[i] * c.x[i];
    }
    min = min > 0 ? Lanes{} : min;
    const LaneInts flat = max == min;
    Lanes iscale = float(nmax) / (max - min);
    Lanes scale = 1 / iscale;
    Lanes codes[kMaxSearchGroup], candidate[kMaxSearchGroup];
    affine_codes(c, nmax, iscale, min, codes);
    Lanes best_error = affine_error(c, codes, scale, min, search.use_mad);
    for (int is = 0; search.nstep >= 1 && is <= search.nstep; ++is) {
        // ggml divides by (max - min) with min already replaced by the best fit so far; kept for exactness
        iscale = (search.rmin + search.rdelta * float(is) + float(nmax)) / (max - min);
        affine_codes(c, nmax, iscale, min, candidate);
        Lanes sum_l{}, sum_l2{}, sum_xl{};
        for (int i = 0; i < c.n; ++i) {
            sum_l += c.w[i] * candidate[i];
            sum_l2 += c.w[i] * candidate[i] * candidate[i];
            sum_xl += c.w[i] * candidate[i] * c.x[i];
        }
        const Lanes D = sum_w * sum_l2 - sum_l * sum_l;
        Lanes this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        Lanes this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        const LaneInts positive_min = this_min > 0;
        this_min = positive_min ? Lanes{} : this_min;
        this_scale = positive_min ? sum_xl / sum_l2 : this_scale;
        const Lanes error = affine_error(c, candidate, this_scale, this_min, search.use_mad);
        const LaneInts better = (D > 0) & ~flat & (error < best_error);
        adopt_codes(c.n, better, candidate, codes);
        best_error = better ? error : best_error;
        scale = better ? this_scale : scale;
        min = better ? this_min : min;
    }
    for (int g = 0; g < c.groups; ++g) {
        scales[g] = flat[g] ? 0.f : scale[g];
        mins[g] = -min[g];
        for (int i = 0; i < c.n; ++i) L[g * c.n + i] = flat[g] ? 0 : uint8_t(codes[i][g]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Non-linear grid search (iq4_nl / iq4_xs).

// The grid entry nearest to v. ggml's binary search ends on the grid values below <= v < above around v
// (below = the last of grid[1..14] that v is not below, else grid[0]; NaN ends on grid[14], grid[15]) and
// compares the rounded distances v - below and above - v, taking the upper one on ties.
struct GridPick {
    LaneInts index;
    Lanes value;
};

GridPick nearest_grid(const Lanes& v, const float* grid) {
    LaneInts lower_index{};
    Lanes below = Lanes{} + grid[0], above = Lanes{} + grid[15];
    for (int k = 1; k < 15; ++k) {
        const LaneInts not_below = ~(v < grid[k]);
        lower_index -= not_below;  // masks are -1
        below = not_below ? grid[k] : below;
    }
    for (int k = 14; k >= 1; --k) above = v < grid[k] ? grid[k] : above;
    const LaneInts take_lower = v - below < above - v;
    return {take_lower ? lower_index : lower_index + 1, take_lower ? below : above};
}

struct GridFit {
    Lanes sumqx{};
    Lanes sumq2{};
};

GridFit fit_grid(const Chunk& c, const float* grid, const Lanes& iscale) {
    GridFit fit;
    for (int i = 0; i < c.n; ++i) {
        const Lanes q = nearest_grid(iscale * c.x[i], grid).value;
        fit.sumqx += c.w[i] * q * c.x[i];
        fit.sumq2 += c.w[i] * q * q;
    }
    return fit;
}

void search_grid_chunk(const Chunk& c, const float* grid, int ntry, float* scales) {
    Lanes max{}, amax{};
    for (int i = 0; i < c.n; ++i) {
        const LaneInts larger = abs(c.x[i]) > amax;
        amax = larger ? abs(c.x[i]) : amax;
        max = larger ? c.x[i] : max;
    }
    GridFit fit = fit_grid(c, grid, 1 / (-max / grid[0]));
    Lanes d = fit.sumq2 > 0 ? fit.sumqx / fit.sumq2 : Lanes{};
    Lanes best = d * fit.sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
        fit = fit_grid(c, grid, (float(itry) + grid[0]) / max);
        const LaneInts better = (fit.sumq2 > 0) & (fit.sumqx * fit.sumqx > best * fit.sumq2);
        d = better ? fit.sumqx / fit.sumq2 : d;
        best = better ? d * fit.sumqx : best;
    }
    for (int g = 0; g < c.groups; ++g) scales[g] = amax[g] < kGroupMaxEps ? 0.f : d[g];
}

}  // namespace

void search_grid_scales(int groups, int n, const float* grid, int ntry, const float* x, const float* weights,
                        float* scales) {
    Chunk chunk;
    for (int first = 0; first < groups; first += kLanes) {
        const int offset = first * n;
        load_chunk(chunk, std::min(kLanes, groups - first), n, x + offset, weights + offset);
        search_grid_chunk(chunk, grid, ntry, scales + first);
    }
}

void search_symmetric_scales(int groups, int n, int nmax, const float* x, const float* weights, int8_t* L,
                             float* scales) {
    Chunk chunk;
    for (int first = 0; first < groups; first += kLanes) {
        const int offset = first * n;
        load_chunk(chunk, std::min(kLanes, groups - first), n, x + offset, weights ? weights + offset : nullptr);
        search_symmetric_chunk(chunk, nmax, L + offset, scales + first);
    }
}

void search_affine_scales(int groups, int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* scales, float* mins, const AffineSearch& search) {
    Chunk chunk;
    for (int first = 0; first < groups; first += kLanes) {
        const int offset = first * n;
        load_chunk(chunk, std::min(kLanes, groups - first), n, x + offset, weights + offset);
        search_affine_chunk(chunk, nmax, search, L + offset, scales + first, mins + first);
    }
}

}  // namespace qb::gguf
