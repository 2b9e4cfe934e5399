#version 450
// One pass of tensor statistics. A workgroup takes a tile of TILE_ROWS rows x one segment of
// VALUES_PER_THREAD * WORKGROUP columns and, for each row of the tile, writes the segment's count, mean
// and central sums (two reductions: the means first, then the sums of the powers of x - mean), extremes
// and NaN/Inf counts; the host merges segments in double. Reductions are what costs on a CPU device
// (lavapipe), so each reduces all rows of the tile at once and every thread takes 16 values per row.
// Per-column absmax goes to global atomics once per tile, histogram counts through a workgroup
// sub-histogram (up to SHARED_BINS bins, else global atomics). Shared memory stays under 16 KiB.
// Non-finite values are counted and otherwise left out (absmax treats them as 0).
// Loop budget: llvmpipe (lavapipe 22.3) silently ends every loop of an invocation once its loops have run
// 65,535 iterations in all. An invocation's loops are bounded by its tile, not by rows or cols: about
// TILE_ROWS x (2 x 17 + 16 x the histogram's bin walks) + (bins + 2) / WORKGROUP + a few dozen, a few
// hundred for 8 rows (the bin guess is exact or one off). Rows of 128,256 values are tested.
// Histogram membership is exact against the host's double bin edges: thresholds[b] is the smallest
// float >= edge b, so x is in bin b >= 0 exactly when thresholds[b] <= x < thresholds[b + 1].
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#define WORKGROUP 256u
#define VALUES_PER_THREAD 16u
#define MAX_SUBGROUPS 32u  // WORKGROUP / the smallest subgroup size allowed (8)
#define SHARED_BINS 1024u

layout(local_size_x = 256) in;
const uint WORKGROUP_SIZE = WORKGROUP;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TILE_ROWS = 8u;

struct SegmentSummary {
    uint count;
    uint nan_count;
    uint inf_count;
    float mean;
    float m2;
    float m3;
    float m4;
    float min_value;
    float max_value;
};

layout(std430, binding = 0) readonly buffer Values { float values[]; };
layout(std430, binding = 1) writeonly buffer Summaries { SegmentSummary summaries[]; };
layout(std430, binding = 2) buffer ColumnAbsMax { uint column_absmax_bits[]; };
layout(std430, binding = 3) buffer Histogram { uint histogram[]; };  // bins, then underflow, overflow
layout(std430, binding = 4) readonly buffer Thresholds { float thresholds[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint segments;     // per row
    uint groups;       // real workgroups of the (folded) grid
    uint flags;        // 1: histogram, 2: column absmax, 4: histogram of log |x|
    uint bins;
    float origin;      // bin guess: (coordinate - origin) * scale, coordinate x or log2|x|
    float scale;
    float lowest;      // thresholds[0]: below it is underflow
    float highest;     // the largest float <= hi: above it is overflow
} params;

const uint kHistogram = 1u;
const uint kColumnAbsMax = 2u;
const uint kLogAbs = 4u;

shared float first_sums[TILE_ROWS][MAX_SUBGROUPS][6];   // count, nan, inf, sum, min, max per row and subgroup
shared float second_sums[TILE_ROWS][MAX_SUBGROUPS][3];  // sums of d^2, d^3, d^4 per row and subgroup
shared float row_means[TILE_ROWS];
shared uint local_histogram[SHARED_BINS + 2];

bool is_finite(float x) { return (floatBitsToUint(x) & 0x7f800000u) != 0x7f800000u; }

uint histogram_bin(float x) {
    bool log_abs = (params.flags & kLogAbs) != 0u;
    float v = log_abs ? abs(x) : x;
    if (v < params.lowest) return params.bins;
    if (v > params.highest) return params.bins + 1u;
    float coordinate = log_abs ? log2(v) : v;
    float guess = clamp((coordinate - params.origin) * params.scale, 0.0, float(params.bins - 1u));
    uint bin = uint(guess);
    while (bin > 0u && v < thresholds[bin]) --bin;
    while (bin + 1u < params.bins && v >= thresholds[bin + 1u]) ++bin;
    return bin;
}

void count_in_histogram(float x) {
    uint bin = histogram_bin(x);
    if (params.bins <= SHARED_BINS)
        atomicAdd(local_histogram[bin], 1u);
    else
        atomicAdd(histogram[bin], 1u);
}

uint column(uint first_col, uint k) { return first_col + k * WORKGROUP; }

// Phase 1 for one row: this thread's values into count, NaN, Inf, sum, min, max per subgroup.
void first_sums_of_row(uint row, uint tile_row, uint first_col, inout float column_absmax[VALUES_PER_THREAD]) {
    float count = 0.0, nan_count = 0.0, inf_count = 0.0, sum = 0.0;
    float lo = uintBitsToFloat(0x7f800000u), hi = -lo;
    for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
        uint col = column(first_col, k);
        if (col >= params.cols) continue;
        float x = values[row * params.cols + col];
        if (!is_finite(x)) {
            if ((floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u) nan_count += 1.0; else inf_count += 1.0;
            continue;
        }
        count += 1.0;
        sum += x;
        lo = min(lo, x);
        hi = max(hi, x);
        column_absmax[k] = max(column_absmax[k], abs(x));
        if ((params.flags & kHistogram) != 0u) count_in_histogram(x);
    }
    count = subgroupAdd(count);
    nan_count = subgroupAdd(nan_count);
    inf_count = subgroupAdd(inf_count);
    sum = subgroupAdd(sum);
    lo = subgroupMin(lo);
    hi = subgroupMax(hi);
    if (subgroupElect()) {
        first_sums[tile_row][gl_SubgroupID][0] = count;
        first_sums[tile_row][gl_SubgroupID][1] = nan_count;
        first_sums[tile_row][gl_SubgroupID][2] = inf_count;
        first_sums[tile_row][gl_SubgroupID][3] = sum;
        first_sums[tile_row][gl_SubgroupID][4] = lo;
        first_sums[tile_row][gl_SubgroupID][5] = hi;
    }
}

// The row's mean from its subgroup sums, the lanes of each subgroup sharing the reading.
float row_mean(uint tile_row) {
    float count = 0.0, sum = 0.0;
    for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) {
        count += first_sums[tile_row][s][0];
        sum += first_sums[tile_row][s][3];
    }
    count = subgroupAdd(count);
    sum = subgroupAdd(sum);
    return count > 0.0 ? sum / count : 0.0;
}

// Phase 2 for one row: sums of the powers of x - mean per subgroup (the values are read again: cheaper
// than holding every row of the tile in registers).
void central_sums_of_row(uint row, uint tile_row, uint first_col) {
    float mean = row_mean(tile_row);
    if (gl_SubgroupID == 0u && subgroupElect()) row_means[tile_row] = mean;
    float m2 = 0.0, m3 = 0.0, m4 = 0.0;
    for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
        uint col = column(first_col, k);
        float x = col < params.cols ? values[row * params.cols + col] : mean;
        float d = is_finite(x) ? x - mean : 0.0;
        float d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    m2 = subgroupAdd(m2);
    m3 = subgroupAdd(m3);
    m4 = subgroupAdd(m4);
    if (subgroupElect()) {
        second_sums[tile_row][gl_SubgroupID][0] = m2;
        second_sums[tile_row][gl_SubgroupID][1] = m3;
        second_sums[tile_row][gl_SubgroupID][2] = m4;
    }
}

// Phase 3: subgroup g merges the subgroup entries of rows g, g + gl_NumSubgroups, ... of the tile (its
// lanes sharing the reading) and writes their segment summaries.
void write_summaries(uint first_row, uint tile_rows, uint segment) {
    for (uint r = gl_SubgroupID; r < tile_rows; r += gl_NumSubgroups) {
        float count = 0.0, nan_count = 0.0, inf_count = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
        float lo = uintBitsToFloat(0x7f800000u), hi = -lo;
        for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) {
            count += first_sums[r][s][0];
            nan_count += first_sums[r][s][1];
            inf_count += first_sums[r][s][2];
            lo = min(lo, first_sums[r][s][4]);
            hi = max(hi, first_sums[r][s][5]);
            m2 += second_sums[r][s][0];
            m3 += second_sums[r][s][1];
            m4 += second_sums[r][s][2];
        }
        SegmentSummary summary;
        summary.count = uint(subgroupAdd(count));
        summary.nan_count = uint(subgroupAdd(nan_count));
        summary.inf_count = uint(subgroupAdd(inf_count));
        summary.mean = row_means[r];
        summary.m2 = subgroupAdd(m2);
        summary.m3 = subgroupAdd(m3);
        summary.m4 = subgroupAdd(m4);
        summary.min_value = subgroupMin(lo);
        summary.max_value = subgroupMax(hi);
        if (subgroupElect()) summaries[(first_row + r) * params.segments + segment] = summary;
    }
}

void main() {
    uint group = linear_group();
    if (group >= params.groups) return;
    uint segment = group % params.segments;
    uint first_row = (group / params.segments) * TILE_ROWS;
    uint tile_rows = min(TILE_ROWS, params.rows - first_row);
    uint thread = gl_LocalInvocationID.x;
    uint first_col = segment * WORKGROUP * VALUES_PER_THREAD + thread;
    bool shared_histogram = (params.flags & kHistogram) != 0u && params.bins <= SHARED_BINS;

    if (shared_histogram)
        for (uint b = thread; b < params.bins + 2u; b += WORKGROUP) local_histogram[b] = 0u;
    float column_absmax[VALUES_PER_THREAD];
    for (uint k = 0u; k < VALUES_PER_THREAD; ++k) column_absmax[k] = 0.0;
    barrier();

    for (uint r = 0u; r < tile_rows; ++r) first_sums_of_row(first_row + r, r, first_col, column_absmax);
    barrier();
    for (uint r = 0u; r < tile_rows; ++r) central_sums_of_row(first_row + r, r, first_col);
    barrier();
    write_summaries(first_row, tile_rows, segment);

    if ((params.flags & kColumnAbsMax) != 0u)
        for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
            uint col = column(first_col, k);
            if (col < params.cols) atomicMax(column_absmax_bits[col], floatBitsToUint(column_absmax[k]));
        }
    if (shared_histogram)
        for (uint b = thread; b < params.bins + 2u; b += WORKGROUP)
            if (local_histogram[b] != 0u) atomicAdd(histogram[b], local_histogram[b]);
}
