#include "gpu/resident_buffer.h"

#include <algorithm>

#include "gpu/vk_device.h"
#include "gpu/vk_sequence.h"

namespace qb::gpu {
namespace {

template <typename Record>
void run_now(Device& device, Record&& record) {
    Sequence s(device);
    s.begin();
    record(s);
    s.submit();
    s.wait();
}

}  // namespace

ResidentBuffer::ResidentBuffer(Device& device, size_t bytes)
    : device_(device),
      buffer_(device, std::max<size_t>(bytes, 4), device.unified_memory() ? MemoryRole::Shared : MemoryRole::Device) {}

void ResidentBuffer::write(const void* data, size_t bytes, size_t offset) {
    if (device_.unified_memory()) {
        std::memcpy(buffer_.mapped().data() + offset, data, bytes);
        return;
    }
    Buffer upload(device_, std::max<size_t>(bytes, 4), MemoryRole::Upload);
    std::memcpy(upload.mapped().data(), data, bytes);
    run_now(device_, [&](Sequence& s) { s.copy(upload, buffer_, bytes, 0, offset); });
}

void ResidentBuffer::clear() {
    run_now(device_, [&](Sequence& s) { s.fill(buffer_, 0); });
}

void ResidentBuffer::read_into(void* data, size_t bytes, size_t offset) const {
    if (device_.unified_memory()) {
        std::memcpy(data, buffer_.mapped().data() + offset, bytes);
        return;
    }
    Buffer download(device_, std::max<size_t>(bytes, 4), MemoryRole::Download);
    run_now(device_, [&](Sequence& s) { s.copy(buffer_, download, bytes, offset, 0); });
    std::memcpy(data, download.mapped().data(), bytes);
}

}  // namespace qb::gpu
