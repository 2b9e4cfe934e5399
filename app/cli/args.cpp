#include "app/cli/args.h"

#include <sstream>

#include "core/util/error.h"

namespace qbcli {

Args::Args(const std::vector<std::string>& argv, const ArgSpec& spec) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (arg.rfind("--", 0) != 0 || arg == "--") {
            positionals_.push_back(arg);
            continue;
        }
        std::string name = arg.substr(2), value;
        const auto eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (spec.flags.count(name) && !inline_value) {
            flags_.insert(name);
        } else if (spec.options.count(name)) {
            if (!inline_value) {
                if (i + 1 >= argv.size()) throw qb::Error("usage", "option --" + name + " needs a value");
                value = argv[++i];
            }
            values_.emplace(name, value);
        } else {
            throw qb::Error("usage", "unknown option --" + name);
        }
    }
}

std::string Args::value(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Args::values(const std::string& name) const {
    std::vector<std::string> out;
    auto [begin, end] = values_.equal_range(name);
    for (auto it = begin; it != end; ++it) {
        std::stringstream items(it->second);
        for (std::string item; std::getline(items, item, ',');)
            if (!item.empty()) out.push_back(item);
    }
    return out;
}

long long Args::integer(const std::string& name, long long fallback) const {
    if (!has(name)) return fallback;
    try {
        size_t used = 0;
        long long v = std::stoll(value(name), &used);
        if (used == value(name).size()) return v;
    } catch (const std::exception&) {
    }
    throw qb::Error("usage", "--" + name + " expects an integer, got '" + value(name) + "'");
}

double Args::number(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    try {
        size_t used = 0;
        double v = std::stod(value(name), &used);
        if (used == value(name).size()) return v;
    } catch (const std::exception&) {
    }
    throw qb::Error("usage", "--" + name + " expects a number, got '" + value(name) + "'");
}

}  // namespace qbcli
