// Read-only memory mapping of a whole file. Tensors are views into it; nothing is copied.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace qb {

class MappedFile {
public:
    explicit MappedFile(const std::filesystem::path& path);  // throws Error naming the file
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    size_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }
    std::string name() const { return path_.string(); }

private:
    std::filesystem::path path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace qb
