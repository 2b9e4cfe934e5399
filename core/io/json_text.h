// JSON parsing for file headers and side files (safetensors headers, index.json, config.json) with
// messages a user can act on: invalid UTF-8 and syntax errors report the byte where they occur, and
// duplicate keys of the top-level object are rejected instead of silently keeping the last one.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qb {

// Offset of the first byte that is not part of valid UTF-8, or npos when the text is valid.
size_t first_invalid_utf8(std::string_view text);

// Parses `text` as JSON. `what` names the text in messages ("header", "index"): errors read
// "<subject>: <what> is not valid JSON (syntax error at byte 12)".
nlohmann::json parse_json_text(std::string_view text, const std::string& subject, const std::string& what);

// Reads and parses a whole JSON file; errors name the file.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace qb
