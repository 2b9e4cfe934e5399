#include "core/algo/options.h"

#include "core/util/error.h"

namespace qb {

OptionReader::OptionReader(const nlohmann::json& options, std::string algorithm)
    : options_(options.is_null() ? nlohmann::json::object() : options), algorithm_(std::move(algorithm)) {
    if (!options_.is_object()) throw Error(algorithm_, "options must be a JSON object, got " + options_.dump());
}

const nlohmann::json* OptionReader::find(const std::string& key) {
    known_.insert(key);
    const auto it = options_.find(key);
    return it == options_.end() ? nullptr : &*it;
}

bool OptionReader::has(const std::string& key) const { return options_.contains(key); }

double OptionReader::number(const std::string& key, double fallback, double min, double max) {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    if (!value->is_number() || !(value->get<double>() >= min && value->get<double>() <= max))
        throw Error(algorithm_, "option '" + key + "' must be a number in [" + nlohmann::json(min).dump() + ", " +
                                    nlohmann::json(max).dump() + "], got " + value->dump());
    return value->get<double>();
}

int64_t OptionReader::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() < min || value->get<int64_t>() > max)
        throw Error(algorithm_, "option '" + key + "' must be an integer in [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "], got " + value->dump());
    return value->get<int64_t>();
}

bool OptionReader::flag(const std::string& key, bool fallback) {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    if (!value->is_boolean())
        throw Error(algorithm_, "option '" + key + "' must be true or false, got " + value->dump());
    return value->get<bool>();
}

void OptionReader::finish() const {
    for (const auto& [key, value] : options_.items()) {
        if (known_.count(key)) continue;
        std::string names;
        for (const std::string& k : known_) names += (names.empty() ? "" : ", ") + k;
        throw Error(algorithm_, "unknown option '" + key + "' (known: " + (names.empty() ? "none" : names) + ")");
    }
}

}  // namespace qb
