// Bounds-checked little-endian cursor over a byte span, for file parsers. Every read that would pass
// the end throws Error("<file>", "truncated: <what> needs N bytes at offset X, file has Y").
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/util/error.h"

namespace qb {

class ByteReader {
public:
    ByteReader(std::span<const uint8_t> bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

    template <typename T>
    T read(std::string_view what) {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        std::memcpy(&value, take(sizeof(T), what), sizeof(T));
        return value;
    }
    const uint8_t* take(uint64_t n, std::string_view what);
    void skip(uint64_t n, std::string_view what) { take(n, what); }
    uint64_t offset() const { return offset_; }
    uint64_t remaining() const { return bytes_.size() - offset_; }
    const std::string& file() const { return file_; }
    [[noreturn]] void fail(const std::string& problem) const { throw Error(file_, problem); }

private:
    std::span<const uint8_t> bytes_;
    std::string file_;
    uint64_t offset_ = 0;
};

}  // namespace qb
