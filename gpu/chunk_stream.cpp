#include "gpu/chunk_stream.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>

#include "core/jobs/job.h"
#include "gpu/vk_buffer.h"
#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One in-flight chunk: device buffers, host-visible staging (the same buffers on unified memory) and
// the sequence that runs it. The sequence is declared last so it is destroyed (waiting for the GPU)
// before the buffers it uses.
class Slot {
public:
    Slot(Device& device, VkDeviceSize input_bytes, VkDeviceSize output_bytes)
        : unified_(device.unified_memory()),
          input_(device, input_bytes, unified_ ? MemoryRole::Shared : MemoryRole::Device),
          output_(device, output_bytes, unified_ ? MemoryRole::Shared : MemoryRole::Device),
          sequence_(device) {
        if (!unified_) {
            upload_.emplace(device, input_bytes, MemoryRole::Upload);
            download_.emplace(device, output_bytes, MemoryRole::Download);
        }
    }

    std::span<std::byte> host_input() const { return unified_ ? input_.mapped() : upload_->mapped(); }
    std::span<std::byte> host_output() const { return unified_ ? output_.mapped() : download_->mapped(); }

    void start(uint64_t chunk, VkDeviceSize input_bytes, VkDeviceSize output_bytes, const ChunkStream& stream) {
        chunk_ = chunk;
        output_bytes_ = output_bytes;
        Sequence& s = sequence_;
        s.begin();
        s.mark();
        if (!unified_ && input_bytes) s.copy(*upload_, input_, input_bytes);
        s.mark();
        stream.record(chunk, s, input_, output_);
        s.mark();
        if (!unified_ && output_bytes) s.copy(output_, *download_, output_bytes);
        s.mark();
        s.submit();
    }

    bool busy() const { return sequence_.pending(); }
    uint64_t chunk() const { return chunk_; }
    VkDeviceSize output_bytes() const { return output_bytes_; }

    // Waits for the chunk and adds its GPU times to `timing`.
    void finish(StreamTiming& timing) {
        sequence_.wait();
        const std::vector<double> marks = sequence_.mark_seconds();
        if (marks.size() == 4) {
            timing.device_copy_s += marks[1] - marks[0] + marks[3] - marks[2];
            timing.kernel_s += marks[2] - marks[1];
        }
    }

private:
    bool unified_;
    Buffer input_;
    Buffer output_;
    std::optional<Buffer> upload_;
    std::optional<Buffer> download_;
    uint64_t chunk_ = 0;
    VkDeviceSize output_bytes_ = 0;
    Sequence sequence_;
};

}  // namespace

StreamTiming& StreamTiming::operator+=(const StreamTiming& other) {
    wall_s += other.wall_s;
    kernel_s += other.kernel_s;
    device_copy_s += other.device_copy_s;
    host_copy_s += other.host_copy_s;
    chunks += other.chunks;
    return *this;
}

VkDeviceSize chunk_bytes_limit(const Device& device, VkDeviceSize budget) {
    VkDeviceSize limit = device.info().max_storage_buffer_range;
    if (device.info().max_allocation_bytes) limit = std::min<VkDeviceSize>(limit, device.info().max_allocation_bytes);
    if (budget) limit = std::min(limit, budget);
    return limit & ~VkDeviceSize(255);  // keep chunk offsets of every element type aligned
}

StreamTiming run_stream(Device& device, const ChunkStream& stream, const JobControl* job, const char* what) {
    if (stream.chunks == 0) return {};
    const auto start = std::chrono::steady_clock::now();
    StreamTiming timing;
    timing.chunks = stream.chunks;
    const VkDeviceSize input_bytes = std::max<VkDeviceSize>(stream.max_input_bytes, 4);
    const VkDeviceSize output_bytes = std::max<VkDeviceSize>(stream.max_output_bytes, 4);
    std::deque<Slot> slots;  // Slot is immovable
    for (int i = 0; i < (stream.chunks > 1 ? 2 : 1); ++i) slots.emplace_back(device, input_bytes, output_bytes);

    auto harvest = [&](Slot& slot) {
        slot.finish(timing);
        const auto copy_start = std::chrono::steady_clock::now();
        stream.harvest(slot.chunk(), slot.host_output().first(slot.output_bytes()));
        timing.host_copy_s += seconds_since(copy_start);
    };
    for (uint64_t k = 0; k < stream.chunks; ++k) {
        if (job) job->step(int64_t(k), int64_t(stream.chunks), what);
        Slot& slot = slots[k % slots.size()];
        if (slot.busy()) harvest(slot);
        const auto copy_start = std::chrono::steady_clock::now();
        const VkDeviceSize used = stream.fill(k, slot.host_input());
        timing.host_copy_s += seconds_since(copy_start);
        slot.start(k, used, stream.output_bytes(k), stream);
    }
    for (uint64_t k = stream.chunks > 2 ? stream.chunks - 2 : 0; k < stream.chunks; ++k) {
        Slot& slot = slots[k % slots.size()];
        if (slot.busy()) harvest(slot);
    }
    if (job) job->step(int64_t(stream.chunks), int64_t(stream.chunks), what);
    timing.wall_s = seconds_since(start);
    return timing;
}

}  // namespace qb::gpu
