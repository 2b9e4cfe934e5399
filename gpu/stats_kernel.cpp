#include "gpu/stats_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "core/analysis/moments.h"
#include "core/util/error.h"
#include "gpu/resident_buffer.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

constexpr uint32_t kWorkgroup = 256;      // statistics.comp: WORKGROUP
constexpr uint32_t kTileRows = 8;
constexpr uint64_t kSegmentCols = kWorkgroup * 16;  // statistics.comp: WORKGROUP * VALUES_PER_THREAD
constexpr uint32_t kMinSubgroup = 8;         // statistics.comp: MAX_SUBGROUPS = 256 / 8

// statistics.comp's SegmentSummary and push constants.
struct SegmentSummary {
    uint32_t count, nan_count, inf_count;
    float mean, m2, m3, m4, min, max;
};
struct Params {
    uint32_t rows, cols, segments, groups, flags, bins;
    float origin, scale, lowest, highest;
};
constexpr uint32_t kHistogramFlag = 1, kColumnAbsMaxFlag = 2, kLogAbsFlag = 4;

float float_at_or_above(double t) {
    float f = float(t);
    if (double(f) < t) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
}

float float_at_or_below(double t) {
    float f = float(t);
    if (double(f) > t) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}

// Host side of one run: merges segment summaries row by row into the result.
class SummaryMerger {
public:
    SummaryMerger(TensorStats& result, const StatsRequest& request, int64_t rows) : result_(result) {
        if (request.row_absmax) result_.row_absmax.assign(size_t(rows), 0.0f);
    }

    void add_row(int64_t row, const SegmentSummary* segments, uint64_t count) {
        float absmax = 0.0f;
        for (uint64_t s = 0; s < count; ++s) {
            const SegmentSummary& seg = segments[s];
            result_.nan_count += seg.nan_count;
            result_.inf_count += seg.inf_count;
            if (seg.count == 0) continue;
            moments_.add({double(seg.count), double(seg.mean), double(seg.m2), double(seg.m3), double(seg.m4), seg.min, seg.max});
            absmax = std::max({absmax, -seg.min, seg.max});
        }
        if (!result_.row_absmax.empty()) result_.row_absmax[size_t(row)] = absmax;
    }

    void finish() { result_.moments = moments_.result(); }

private:
    TensorStats& result_;
    MomentAccumulator moments_;
};

Params histogram_params(const StatsRequest& request, const Histogram& shape, Params p) {
    if (!request.bins) return p;
    const bool log_abs = request.scale == HistogramScale::LogAbs;
    p.flags |= kHistogramFlag | (log_abs ? kLogAbsFlag : 0);
    p.bins = uint32_t(request.bins);
    const double origin = log_abs ? std::log2(request.lo) : request.lo;
    const double extent = log_abs ? std::log2(request.hi) - origin : request.hi - request.lo;
    p.origin = float(origin);
    p.scale = float(double(request.bins) / extent);
    p.lowest = float_at_or_above(shape.edges.front());
    p.highest = float_at_or_below(shape.edges.back());
    return p;
}

}  // namespace

bool can_compute_statistics_on(const Device& device, int64_t cols) {
    const DeviceInfo& info = device.info();
    return info.subgroup_arithmetic && info.subgroup_size >= kMinSubgroup &&
           uint64_t(cols) * sizeof(float) <= chunk_bytes_limit(device, 0);
}

StreamTiming statistics_on(Device& device, const float* values, int64_t rows, int64_t cols, const StatsRequest& request,
                           VkDeviceSize chunk_budget, const JobControl* job, TensorStats& result) {
    validate(request);
    if (!can_compute_statistics_on(device, cols))
        throw Error("statistics", "'" + device.info().name + "' cannot compute these statistics");
    result = {};
    result.histogram = histogram_shape(request);
    const uint64_t segments = (uint64_t(cols) + kSegmentCols - 1) / kSegmentCols;
    const uint64_t row_bytes = uint64_t(cols) * sizeof(float);
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, chunk_bytes_limit(device, chunk_budget) / row_bytes);
    const uint64_t chunk_count = (uint64_t(rows) + rows_per_chunk - 1) / rows_per_chunk;
    auto chunk_rows = [&](uint64_t k) { return std::min<uint64_t>(rows_per_chunk, uint64_t(rows) - k * rows_per_chunk); };

    ResidentBuffer column_absmax(device, size_t(cols) * sizeof(uint32_t));
    ResidentBuffer histogram(device, (size_t(request.bins) + 2) * sizeof(uint32_t));
    ResidentBuffer thresholds(device, (size_t(request.bins) + 1) * sizeof(float));
    column_absmax.clear();
    histogram.clear();
    std::vector<float> threshold_values;
    for (double edge : result.histogram.edges) threshold_values.push_back(float_at_or_above(edge));
    if (!threshold_values.empty()) thresholds.write(threshold_values.data(), threshold_values.size() * sizeof(float));

    Params base{};
    base.cols = uint32_t(cols);
    base.segments = uint32_t(segments);
    base.flags = request.col_absmax ? kColumnAbsMaxFlag : 0;
    base = histogram_params(request, result.histogram, base);
    const Pipeline& pipeline = device.pipeline({"statistics", {kWorkgroup, kTileRows}, 5, sizeof(Params)});
    SummaryMerger merger(result, request, rows);

    ChunkStream stream;
    stream.chunks = chunk_count;
    stream.max_input_bytes = rows_per_chunk * row_bytes;
    stream.max_output_bytes = rows_per_chunk * segments * sizeof(SegmentSummary);
    stream.fill = [&](uint64_t k, std::span<std::byte> input) {
        const size_t bytes = chunk_rows(k) * row_bytes;
        std::memcpy(input.data(), values + k * rows_per_chunk * uint64_t(cols), bytes);
        return VkDeviceSize(bytes);
    };
    stream.record = [&](uint64_t k, Sequence& s, const Buffer& in, const Buffer& out) {
        Params p = base;
        p.rows = uint32_t(chunk_rows(k));
        p.groups = uint32_t((p.rows + kTileRows - 1) / kTileRows * segments);
        s.dispatch(pipeline, {&in, &out, &column_absmax.buffer(), &histogram.buffer(), &thresholds.buffer()}, &p, p.groups);
    };
    stream.output_bytes = [&](uint64_t k) { return VkDeviceSize(chunk_rows(k) * segments * sizeof(SegmentSummary)); };
    stream.harvest = [&](uint64_t k, std::span<const std::byte> output) {
        const auto* summaries = reinterpret_cast<const SegmentSummary*>(output.data());
        for (uint64_t r = 0; r < chunk_rows(k); ++r)
            merger.add_row(int64_t(k * rows_per_chunk + r), summaries + r * segments, segments);
    };
    const StreamTiming timing = run_stream(device, stream, job, "statistics");
    merger.finish();

    if (request.col_absmax) {
        const std::vector<uint32_t> bits = column_absmax.read<uint32_t>(size_t(cols));
        result.col_absmax.resize(bits.size());
        std::memcpy(result.col_absmax.data(), bits.data(), bits.size() * sizeof(float));
    }
    if (request.bins) {
        const std::vector<uint32_t> counts = histogram.read<uint32_t>(size_t(request.bins) + 2);
        std::copy(counts.begin(), counts.end() - 2, result.histogram.counts.begin());
        result.histogram.underflow = counts[size_t(request.bins)];
        result.histogram.overflow = counts[size_t(request.bins) + 1];
    }
    return timing;
}

}  // namespace qb::gpu
