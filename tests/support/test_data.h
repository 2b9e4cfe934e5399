// Test helpers: paths into ../shared/data and scratch directories.
#pragma once
#include <filesystem>
#include <string>

namespace qbtest {

// Absolute path of a file below the shared data folder ($QB_DATA_DIR, else the configured default).
std::filesystem::path data_path(const std::string& relative);
// The stories260K model in one of its three forms: "gguf", "hf", "llama2c".
std::filesystem::path stories260k(const std::string& form);
// A fresh empty directory removed at process exit.
std::filesystem::path scratch_dir();
// Copies a shared file to the scratch directory, so tests may damage the copy.
std::filesystem::path scratch_copy(const std::filesystem::path& source, const std::string& new_name);

}  // namespace qbtest
