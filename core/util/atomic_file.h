// Writes an output file atomically: data goes to "<path>.tmp-XXXX" beside the target and is renamed
// over it only by commit(). Destroying an uncommitted AtomicFile removes the temp file, so a failed or
// cancelled job never leaves a partial output, and an existing file is replaced only by a complete one.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>

namespace qb {

class AtomicFile {
public:
    explicit AtomicFile(const std::filesystem::path& target);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(std::span<const uint8_t> data);
    void write(const void* data, size_t size) { write({static_cast<const uint8_t*>(data), size}); }
    void pad_to(uint64_t alignment);  // zero bytes until the position is a multiple of alignment
    uint64_t position() const { return position_; }
    void commit();  // flush, fsync, rename over the target

private:
    std::filesystem::path target_;
    std::filesystem::path temp_;
    std::FILE* file_ = nullptr;
    uint64_t position_ = 0;
};

}  // namespace qb
