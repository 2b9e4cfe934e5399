// A device buffer that stays on the GPU across the chunks of a streamed operation (column statistics,
// histograms, an importance vector, a matrix operand), with its host copies: write() uploads, read()
// downloads, clear() zeroes. On unified memory the host maps it directly; otherwise each call stages
// through a temporary host-visible buffer and waits for the copy.
#pragma once
#include <cstddef>
#include <cstring>
#include <vector>

#include "gpu/vk_buffer.h"

namespace qb::gpu {

class Device;
class Sequence;

class ResidentBuffer {
public:
    ResidentBuffer(Device& device, size_t bytes);

    const Buffer& buffer() const { return buffer_; }
    void write(const void* data, size_t bytes, size_t offset = 0);
    void clear();
    void read_into(void* data, size_t bytes, size_t offset = 0) const;

    template <typename T>
    std::vector<T> read(size_t count) const {
        std::vector<T> out(count);
        read_into(out.data(), count * sizeof(T));
        return out;
    }

private:
    Device& device_;
    Buffer buffer_;
};

}  // namespace qb::gpu
