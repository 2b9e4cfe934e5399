#include "tests/fuzz/fuzz_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <unistd.h>

#include "core/infer/tokenizer.h"
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

constexpr std::string_view kTokenizerText =
    "Once upon a time, there was a little girl named Lily.  She's 3 and they'll play 12345 games!\n\n"
    "\t  leading and trailing spaces   \r\nH\xC3\xA9llo w\xC3\xB6rld \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80 "
    "<s></s><unk><|endoftext|><sep>[MASK] \xFF\xFE\xC3 bad UTF-8 \xE2\x96\x81\xE2\x96\x81 <0x41> end";

// Text that the vocabulary itself spells: pieces spread over the whole vocabulary, rendered, in a row.
constexpr int32_t kPiecesInText = 48;

void check_ids(const qb::Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
    for (const int32_t id : ids) {
        if (id >= 0 && id < tokenizer.vocab_size()) continue;
        std::fprintf(stderr, "encode() produced token id %d outside the vocabulary of %d\n", id, tokenizer.vocab_size());
        std::abort();
    }
}

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

void exercise_tokenizer(const qb::Tokenizer& tokenizer) {
    std::string own_text;
    const int64_t size = tokenizer.vocab_size();
    for (int64_t k = 0; k < std::min<int64_t>(size, kPiecesInText); ++k)
        own_text += tokenizer.token_to_piece(int32_t(k * size / std::min<int64_t>(size, kPiecesInText)));
    const qb::Tokenizer collapsing = tokenizer.with_sentencepiece_whitespace();
    for (const std::string_view text : {kTokenizerText, std::string_view(own_text)}) {
        for (const qb::Tokenizer* t : {&tokenizer, &collapsing}) {
            for (const bool parse_special : {false, true}) {
                expect_errors_only([&] {  // adding BOS to a vocabulary without one is an Error
                    const auto ids = t->encode(text, t->add_bos_default(), parse_special);
                    check_ids(*t, ids);
                    (void)t->decode(ids);
                });
            }
        }
    }
    expect_errors_only([&] {
        const auto ids = tokenizer.encode(kTokenizerText, true, true);
        check_ids(tokenizer, ids);
        (void)tokenizer.decode(ids);
    });
}

}  // namespace qbfuzz
