#include "core/util/atomic_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

#include "core/util/error.h"

namespace qb {

AtomicFile::AtomicFile(const std::filesystem::path& target) : target_(target) {
    std::string pattern = target.string() + ".tmp-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) throw Error(target.string(), std::string("cannot create output: ") + std::strerror(errno));
    temp_ = name.data();
    file_ = ::fdopen(fd, "wb");
    if (!file_) {
        ::close(fd);
        std::filesystem::remove(temp_);
        throw Error(target.string(), "cannot open output stream");
    }
}

AtomicFile::~AtomicFile() {
    if (file_) {
        std::fclose(file_);
        std::error_code ignored;
        std::filesystem::remove(temp_, ignored);
    }
}

void AtomicFile::write(std::span<const uint8_t> data) {
    if (!file_) throw Error(target_.string(), "write after commit");
    if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file_) != data.size())
        throw Error(target_.string(), std::string("write failed: ") + std::strerror(errno));
    position_ += data.size();
}

void AtomicFile::pad_to(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    while (position_ % alignment != 0) {
        uint64_t n = std::min<uint64_t>(alignment - position_ % alignment, sizeof zeros);
        write(zeros, n);
    }
}

void AtomicFile::commit() {
    if (!file_) throw Error(target_.string(), "already committed");
    bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    ok = (std::fclose(file_) == 0) && ok;
    file_ = nullptr;
    std::error_code ec;
    if (ok) std::filesystem::rename(temp_, target_, ec);
    if (!ok || ec) {
        std::filesystem::remove(temp_, ec);
        throw Error(target_.string(), "cannot finish writing output (disk full?)");
    }
}

}  // namespace qb
