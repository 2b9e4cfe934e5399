// Shared by the libFuzzer targets. The readers take paths and memory-map them, so each input is
// written to a file in a private temporary folder first (point TMPDIR at a tmpfs for speed).
// qb::Error is the documented answer to bad input and is swallowed; any other exception, a sanitizer
// report or a crash is a finding.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include "core/quant/format.h"

namespace qb {
class Tokenizer;
}

namespace qbfuzz {

// Writes `bytes` to `name` in this process's private folder and returns its path.
std::filesystem::path write_file(const std::string& name, std::span<const uint8_t> bytes);
void remove_file(const std::string& name);

// Runs fn, ignoring qb::Error.
void expect_errors_only(const std::function<void()>& fn);

// Decodes a rows x cols tensor when its format has a decoder and it is small enough to be quick.
void decode(const qb::FormatInfo* format, std::span<const uint8_t> data, int64_t rows, int64_t cols);

// Loads the model at `path` and, unless the caller decoded the same bytes already, its tensors.
void load_model(const std::filesystem::path& path, bool decode_tensors = true);

// Runs a loaded tokenizer over a fixed text (ASCII, spaces, newlines, accents, CJK, emoji, invalid UTF-8,
// special-token spellings) and over text made of its own pieces, with and without BOS, parsing specials and
// with SentencePiece's whitespace rules, then decodes the ids and renders pieces. An id outside the
// vocabulary from encode() is a finding (abort), as is any exception other than qb::Error.
void exercise_tokenizer(const qb::Tokenizer& tokenizer);

}  // namespace qbfuzz
