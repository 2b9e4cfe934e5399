#version 450
// One pass of tensor statistics. A workgroup takes a tile of TILE_ROWS rows x one segment of
// 4 * 256 columns and, for each row of the tile, writes the segment's count, mean and central sums
// (two reductions: the mean first, then the sums of its powers of x - mean), extremes and NaN/Inf
// counts; the host merges segments in double. Per-column absmax goes to global atomics once per tile,
// histogram counts through a workgroup sub-histogram (up to SHARED_BINS bins, else global atomics).
// Non-finite values are counted and otherwise left out (absmax treats them as 0).
// Histogram membership is exact against the host's double bin edges: thresholds[b] is the smallest
// float >= edge b, so x is in bin b >= 0 exactly when thresholds[b] <= x < thresholds[b + 1].
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#define WORKGROUP 256u
#define VALUES_PER_THREAD 4u
#define MAX_SUBGROUPS 32u  // WORKGROUP / the smallest subgroup size allowed (8)
#define SHARED_BINS 1024u

layout(local_size_x = 256) in;
const uint WORKGROUP_SIZE = WORKGROUP;
#include "common/kernel.glsl"
layout(constant_id = 1) const uint TILE_ROWS = 16u;

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

shared float first_sums[MAX_SUBGROUPS][6];   // count, nan, inf, sum, min, max per subgroup
shared float second_sums[MAX_SUBGROUPS][3];  // sums of d^2, d^3, d^4 per subgroup
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

void main() {
    uint group = linear_group();
    if (group >= params.groups) return;
    uint segment = group % params.segments;
    uint first_row = (group / params.segments) * TILE_ROWS;
    uint thread = gl_LocalInvocationID.x;
    uint first_col = segment * WORKGROUP * VALUES_PER_THREAD + thread;
    bool histogram_wanted = (params.flags & kHistogram) != 0u;

    if (histogram_wanted && params.bins <= SHARED_BINS)
        for (uint b = thread; b < params.bins + 2u; b += WORKGROUP) local_histogram[b] = 0u;
    float column_absmax[VALUES_PER_THREAD];
    for (uint k = 0u; k < VALUES_PER_THREAD; ++k) column_absmax[k] = 0.0;
    barrier();

    for (uint row = first_row; row < min(first_row + TILE_ROWS, params.rows); ++row) {
        float x[VALUES_PER_THREAD];
        bool counted[VALUES_PER_THREAD];
        float count = 0.0, nan_count = 0.0, inf_count = 0.0, sum = 0.0;
        float lo = uintBitsToFloat(0x7f800000u), hi = -lo;
        for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
            uint col = first_col + k * WORKGROUP;
            x[k] = col < params.cols ? values[row * params.cols + col] : 0.0;
            counted[k] = col < params.cols && is_finite(x[k]);
            if (col < params.cols && !counted[k]) {
                if (isnan(x[k])) nan_count += 1.0; else inf_count += 1.0;
            }
            if (!counted[k]) continue;
            count += 1.0;
            sum += x[k];
            lo = min(lo, x[k]);
            hi = max(hi, x[k]);
            column_absmax[k] = max(column_absmax[k], abs(x[k]));
            if (histogram_wanted) count_in_histogram(x[k]);
        }
        count = subgroupAdd(count);
        nan_count = subgroupAdd(nan_count);
        inf_count = subgroupAdd(inf_count);
        sum = subgroupAdd(sum);
        lo = subgroupMin(lo);
        hi = subgroupMax(hi);
        if (subgroupElect()) {
            first_sums[gl_SubgroupID][0] = count;
            first_sums[gl_SubgroupID][1] = nan_count;
            first_sums[gl_SubgroupID][2] = inf_count;
            first_sums[gl_SubgroupID][3] = sum;
            first_sums[gl_SubgroupID][4] = lo;
            first_sums[gl_SubgroupID][5] = hi;
        }
        barrier();
        float total_count = 0.0, total_sum = 0.0;
        for (uint s = 0u; s < gl_NumSubgroups; ++s) {
            total_count += first_sums[s][0];
            total_sum += first_sums[s][3];
        }
        float mean = total_count > 0.0 ? total_sum / total_count : 0.0;
        float m2 = 0.0, m3 = 0.0, m4 = 0.0;
        for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
            if (!counted[k]) continue;
            float d = x[k] - mean;
            float d2 = d * d;
            m2 += d2;
            m3 += d2 * d;
            m4 += d2 * d2;
        }
        m2 = subgroupAdd(m2);
        m3 = subgroupAdd(m3);
        m4 = subgroupAdd(m4);
        if (subgroupElect()) {
            second_sums[gl_SubgroupID][0] = m2;
            second_sums[gl_SubgroupID][1] = m3;
            second_sums[gl_SubgroupID][2] = m4;
        }
        barrier();
        if (thread == 0u) {
            SegmentSummary summary;
            summary.count = uint(total_count);
            summary.nan_count = 0u;
            summary.inf_count = 0u;
            summary.mean = mean;
            summary.m2 = 0.0;
            summary.m3 = 0.0;
            summary.m4 = 0.0;
            summary.min_value = first_sums[0][4];
            summary.max_value = first_sums[0][5];
            for (uint s = 0u; s < gl_NumSubgroups; ++s) {
                summary.nan_count += uint(first_sums[s][1]);
                summary.inf_count += uint(first_sums[s][2]);
                summary.min_value = min(summary.min_value, first_sums[s][4]);
                summary.max_value = max(summary.max_value, first_sums[s][5]);
                summary.m2 += second_sums[s][0];
                summary.m3 += second_sums[s][1];
                summary.m4 += second_sums[s][2];
            }
            summaries[row * params.segments + segment] = summary;
        }
    }

    if ((params.flags & kColumnAbsMax) != 0u)
        for (uint k = 0u; k < VALUES_PER_THREAD; ++k) {
            uint col = first_col + k * WORKGROUP;
            if (col < params.cols) atomicMax(column_absmax_bits[col], floatBitsToUint(column_absmax[k]));
        }
    if (histogram_wanted && params.bins <= SHARED_BINS) {
        barrier();
        for (uint b = thread; b < params.bins + 2u; b += WORKGROUP)
            if (local_histogram[b] != 0u) atomicAdd(histogram[b], local_histogram[b]);
    }
}
