#include "core/io/json_text.h"

#include <set>

#include "core/util/error.h"
#include "core/util/mapped_file.h"

namespace qb {

size_t first_invalid_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        // Lead byte: sequence length and the range of the second byte (excludes overlong forms,
        // UTF-16 surrogates and code points above U+10FFFF).
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c == 0xe0) len = 3, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec) len = 3;
        else if (c == 0xed) len = 3, hi = 0x9f;
        else if (c >= 0xee && c <= 0xef) len = 3;
        else if (c == 0xf0) len = 4, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) len = 4;
        else if (c == 0xf4) len = 4, hi = 0x8f;
        else return i;
        if (i + len > n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return i;
        i += len;
    }
    return std::string_view::npos;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& subject, const std::string& what) {
    if (size_t bad = first_invalid_utf8(text); bad != std::string_view::npos)
        throw Error(subject, what + " is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")");
    std::set<std::string> top_level_keys;
    auto reject_duplicates = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
            !top_level_keys.insert(parsed.get<std::string>()).second)
            throw Error(subject, what + " has the key '" + parsed.get<std::string>() + "' twice");
        return true;
    };
    try {
        return nlohmann::json::parse(text.begin(), text.end(), reject_duplicates);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(subject, what + " is not valid JSON (syntax error at byte " + std::to_string(e.byte) + ")");
    } catch (const nlohmann::json::out_of_range&) {  // a number literal such as 1e999
        throw Error(subject, what + " is not valid JSON (a number is out of range)");
    }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
    MappedFile file(path);
    const auto bytes = file.bytes();
    return parse_json_text({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, file.name(), "file");
}

}  // namespace qb
