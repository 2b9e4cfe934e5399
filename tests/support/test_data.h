// Test helpers: paths into ../shared/data, its texts, stories260K ready to run, and scratch directories.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "core/infer/forward.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"

namespace qbtest {

// Absolute path of a file below the shared data folder ($QB_DATA_DIR, else the configured default).
std::filesystem::path data_path(const std::string& relative);
// The stories260K model in one of its three forms: "gguf", "hf", "llama2c".
std::filesystem::path stories260k(const std::string& form);

// A file's bytes as stored (CRLF kept), cut to the first `max_bytes`; empty when it cannot be read.
std::string read_file(const std::filesystem::path& path, size_t max_bytes = std::string::npos);
// read_file of a shared data file.
std::string read_text(const std::string& relative, size_t max_bytes = std::string::npos);
// text/tinystories-snippet-30k.txt, stories260K's in-domain evaluation text (read once).
const std::string& tinystories_snippet();
// stories260K's f32 GGUF model (loaded once).
const qb::Model& stories260k_model();
// stories260K's tokenizer (from its GGUF, loaded once).
const qb::Tokenizer& stories260k_tokenizer();

// A model ready to run: loaded, its forward pass built, and a text tokenized with the model's tokenizer.
struct LoadedModel {
    qb::Model model;
    qb::Transformer net{model};
    qb::EvalText text;

    LoadedModel(const std::filesystem::path& path, std::string_view text_body);
    LoadedModel(const LoadedModel&) = delete;  // net refers to model
    LoadedModel& operator=(const LoadedModel&) = delete;
};
// A fresh empty directory removed at process exit.
std::filesystem::path scratch_dir();
// Copies a shared file to the scratch directory, so tests may damage the copy.
std::filesystem::path scratch_copy(const std::filesystem::path& source, const std::string& new_name);

}  // namespace qbtest
