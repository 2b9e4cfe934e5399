// A text input (calibration or evaluation text) with its provenance: the SHA-256 is of the exact bytes
// that were read, so an analysis file names the text its numbers came from.
#pragma once
#include <filesystem>
#include <string>

namespace qb {

struct TextFile {
    std::filesystem::path path;
    std::string text;
    std::string sha256;
};

TextFile read_text_file(const std::filesystem::path& path);  // throws Error(path, "cannot open the text file")

}  // namespace qb
