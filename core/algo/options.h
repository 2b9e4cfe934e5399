// Typed reading of an algorithm's JSON options: each value is checked (type, range) as it is read, and
// finish() rejects keys the algorithm does not know, so a typo in a plan fails with its name.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace qb {

class OptionReader {
public:
    // Throws Error(algorithm, "options must be a JSON object") for anything else (null counts as {}).
    OptionReader(const nlohmann::json& options, std::string algorithm);

    double number(const std::string& key, double fallback, double min, double max);
    int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max);
    bool flag(const std::string& key, bool fallback);
    bool has(const std::string& key) const;
    void finish() const;  // throws Error(algorithm, "unknown option 'x' (known: a, b)")

private:
    const nlohmann::json* find(const std::string& key);

    nlohmann::json options_;
    std::string algorithm_;
    std::set<std::string> known_;
};

}  // namespace qb
