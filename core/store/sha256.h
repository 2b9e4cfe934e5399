// SHA-256 (FIPS 180-4) of byte streams and files, for the provenance of analysis files: a result names
// the exact model and text it came from. Files are read in 1 MiB pieces, so hashing a large model
// needs no more memory than that.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace qb {

class Sha256 {
public:
    Sha256();
    void update(std::span<const uint8_t> bytes);
    std::string hex_digest();  // 64 lower-case hex digits; finishes the hash

private:
    void compress(const uint8_t* block);

    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> pending_{};
    size_t pending_size_ = 0;
    uint64_t length_ = 0;  // bytes hashed so far
};

// Throws Error(path, ...) when the file cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace qb
