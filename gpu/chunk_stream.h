// Streams work through the device a chunk at a time with two slots, so the host's copies for one chunk
// overlap the GPU's work on the other. Per chunk k: fill(k, input) writes the chunk's input into
// host-visible memory and returns its byte count; the stream uploads it (unified-memory devices use it
// in place), record(k, sequence, input, output) records the kernels, the stream downloads
// output_bytes(k) bytes and hands them to harvest(k, output), in chunk order.
// Chunk buffers are sized once (max_input_bytes / max_output_bytes), so callers pick chunk sizes under
// the device's maxStorageBufferRange; see chunk_bytes_limit().
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vulkan/vulkan.h>

namespace qb {
class JobControl;
}

namespace qb::gpu {

class Buffer;
class Device;
class Sequence;

struct ChunkStream {
    uint64_t chunks = 0;
    VkDeviceSize max_input_bytes = 0;
    VkDeviceSize max_output_bytes = 0;
    std::function<VkDeviceSize(uint64_t chunk, std::span<std::byte> input)> fill;
    std::function<void(uint64_t chunk, Sequence& sequence, const Buffer& input, const Buffer& output)> record;
    std::function<VkDeviceSize(uint64_t chunk)> output_bytes;
    std::function<void(uint64_t chunk, std::span<const std::byte> output)> harvest;
};

// Where the time of a streamed operation went. kernel_s and device_copy_s come from GPU timestamps
// (0 where the device has none); host_copy_s is the host's memcpy into and out of mapped memory.
struct StreamTiming {
    double wall_s = 0;
    double kernel_s = 0;
    double device_copy_s = 0;
    double host_copy_s = 0;
    uint64_t chunks = 0;
    StreamTiming& operator+=(const StreamTiming& other);
};

// The largest buffer a chunk may use: the device's storage-buffer range and allocation limits, and
// `budget` (0: no further limit; tests force small chunks with it).
VkDeviceSize chunk_bytes_limit(const Device& device, VkDeviceSize budget);

// Runs the stream; job (may be null) sees a step per chunk and may cancel between chunks.
StreamTiming run_stream(Device& device, const ChunkStream& stream, const JobControl* job, const char* what);

}  // namespace qb::gpu
