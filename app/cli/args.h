// Minimal command-line parsing for quantbench-cli subcommands: positionals, "--name value",
// "--name=value", repeatable options and boolean flags. Unknown options are errors.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qbcli {

struct ArgSpec {
    std::set<std::string> options;  // take a value: --tensor REGEX
    std::set<std::string> flags;    // no value: --json
};

class Args {
public:
    Args(const std::vector<std::string>& argv, const ArgSpec& spec);  // throws qb::Error("usage", ...)

    const std::vector<std::string>& positionals() const { return positionals_; }
    bool flag(const std::string& name) const { return flags_.count(name) > 0; }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string value(const std::string& name, const std::string& fallback = "") const;
    std::vector<std::string> values(const std::string& name) const;  // all occurrences, comma lists split
    long long integer(const std::string& name, long long fallback) const;
    double number(const std::string& name, double fallback) const;

private:
    std::vector<std::string> positionals_;
    std::set<std::string> flags_;
    std::multimap<std::string, std::string> values_;
};

}  // namespace qbcli
