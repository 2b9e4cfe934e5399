#include "tests/fuzz/fuzz_support.h"

#include <fstream>
#include <unistd.h>

#include "core/model/model.h"
#include "core/util/error.h"

namespace qbfuzz {
namespace {

constexpr int64_t kMaxDecodedValues = int64_t(1) << 22;

struct WorkDir {
    std::filesystem::path path;
    WorkDir() {
        path = std::filesystem::temp_directory_path() / ("quantbench-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
    }
    ~WorkDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

const std::filesystem::path& work_dir() {
    static WorkDir dir;
    return dir.path;
}

}  // namespace

std::filesystem::path write_file(const std::string& name, std::span<const uint8_t> bytes) {
    const auto path = work_dir() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

void remove_file(const std::string& name) {
    std::error_code ignored;
    std::filesystem::remove(work_dir() / name, ignored);
}

void expect_errors_only(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const qb::Error&) {
    }
}

void decode(const qb::FormatInfo* format, std::span<const uint8_t> data, int64_t rows, int64_t cols) {
    if (!format || !format->decode_row || rows * cols > kMaxDecodedValues) return;
    expect_errors_only([&] { qb::decode_tensor(*format, data, rows, cols); });
}

void load_model(const std::filesystem::path& path, bool decode_tensors) {
    expect_errors_only([&] {
        const qb::Model model = qb::load_model(path);
        if (!decode_tensors) return;
        for (const auto& t : model.tensors)
            if (t.format && t.format->decode_row && t.numel() <= kMaxDecodedValues) t.to_f32();
    });
}

}  // namespace qbfuzz
