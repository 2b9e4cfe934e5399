#include "core/util/byte_reader.h"

namespace qb {

const uint8_t* ByteReader::take(uint64_t n, std::string_view what) {
    if (n > remaining())
        fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
             std::to_string(offset_) + ", file has " + std::to_string(bytes_.size()));
    const uint8_t* p = bytes_.data() + offset_;
    offset_ += n;
    return p;
}

}  // namespace qb
