#include "core/plan/quant_plan.h"

#include <algorithm>
#include <regex>

#include "core/algo/algorithm.h"
#include "core/io/json_text.h"
#include "core/quant/format.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qb {
namespace {

using nlohmann::json;

void check_format(const std::string& format, const std::string& subject) {
    if (format != kKeepFormat && !find_format(format))
        throw Error(subject, "unknown format '" + format + "' (see `quantbench-cli formats`; or \"keep\")");
}

void check_algorithm(const std::string& algorithm, const std::string& subject) {
    try {
        algorithm_by_name(algorithm);
    } catch (const Error& e) {
        throw Error(subject, e.problem());
    }
}

void check_options(const json& options, const std::string& subject) {
    if (!options.is_object()) throw Error(subject, "options must be a JSON object, got " + options.dump());
}

void check_choice(const PlanChoice& c, const std::string& subject) {
    if (!c.format && !c.algorithm && !c.options) throw Error(subject, "sets none of format, algorithm, options");
    if (c.format) check_format(*c.format, subject);
    if (c.algorithm) check_algorithm(*c.algorithm, subject);
    if (c.options) check_options(*c.options, subject);
}

void check_regex(const std::string& pattern, const std::string& subject) {
    try {
        std::regex compiled(pattern);
    } catch (const std::regex_error& e) {
        throw Error(subject, "bad regular expression '" + pattern + "': " + e.what());
    }
}

// --- JSON reading with strict keys -------------------------------------------------------------

void reject_unknown_keys(const json& object, std::initializer_list<std::string_view> allowed, const std::string& subject) {
    for (const auto& [key, value] : object.items())
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            throw Error(subject, "unknown key '" + key + "' (allowed: " + list + ")");
        }
}

const json& require_object(const json& value, const std::string& subject) {
    if (!value.is_object()) throw Error(subject, "must be a JSON object, got " + value.dump());
    return value;
}

std::string read_string(const json& value, const std::string& subject) {
    if (!value.is_string()) throw Error(subject, "must be a string, got " + value.dump());
    return value.get<std::string>();
}

PlanChoice read_choice(const json& object, const std::string& subject) {
    PlanChoice c;
    if (object.contains("format")) c.format = read_string(object["format"], subject + " format");
    if (object.contains("algorithm")) c.algorithm = read_string(object["algorithm"], subject + " algorithm");
    if (object.contains("options")) c.options = object["options"];
    check_choice(c, subject);
    return c;
}

void write_choice(json& object, const PlanChoice& c) {
    if (c.format) object["format"] = *c.format;
    if (c.algorithm) object["algorithm"] = *c.algorithm;
    if (c.options) object["options"] = *c.options;
}

PlanDefaults read_defaults(const json& value, const std::string& subject) {
    const json& object = require_object(value, subject);
    reject_unknown_keys(object, {"format", "algorithm", "options"}, subject);
    if (!object.contains("format")) throw Error(subject, "needs a format");
    PlanDefaults d;
    d.format = read_string(object["format"], subject + " format");
    if (object.contains("algorithm")) d.algorithm = read_string(object["algorithm"], subject + " algorithm");
    if (object.contains("options")) d.options = object["options"];
    return d;
}

PlanRule read_rule(const json& value, const std::string& subject) {
    const json& object = require_object(value, subject);
    reject_unknown_keys(object, {"match", "format", "algorithm", "options", "note"}, subject);
    if (!object.contains("match")) throw Error(subject, "needs a \"match\" regular expression");
    PlanRule rule;
    rule.match = read_string(object["match"], subject + " match");
    if (object.contains("note")) rule.note = read_string(object["note"], subject + " note");
    rule.choice = read_choice(object, subject);
    return rule;
}

void check_header(const json& doc, const std::string& subject) {
    if (!doc.contains("schema") || doc["schema"] != std::string(kPlanSchema))
        throw Error(subject, "not a Quantbench plan (\"schema\" must be \"" + std::string(kPlanSchema) + "\")");
    if (!doc.contains("version") || !doc["version"].is_number_integer())
        throw Error(subject, "\"version\" must be an integer");
    if (doc["version"].get<int64_t>() != kPlanVersion)
        throw Error(subject, "plan version " + doc["version"].dump() + " is not supported (this build reads version " +
                                 std::to_string(kPlanVersion) + ")");
}

}  // namespace

QuantPlan uniform_plan(std::string_view format) {
    QuantPlan plan;
    plan.name = std::string(format);
    plan.defaults.format = std::string(format);
    return plan;
}

PlanRule parse_rule_text(std::string_view text) {
    const size_t eq = text.rfind('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
        throw Error("rule", "'" + std::string(text) + "' is not REGEX=FORMAT");
    PlanRule rule;
    rule.match = std::string(text.substr(0, eq));
    rule.choice.format = std::string(text.substr(eq + 1));
    std::transform(rule.choice.format->begin(), rule.choice.format->end(), rule.choice.format->begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return rule;
}

void validate_plan(const QuantPlan& plan) {
    check_format(plan.defaults.format, "plan default");
    check_algorithm(plan.defaults.algorithm, "plan default");
    check_options(plan.defaults.options, "plan default");
    for (size_t i = 0; i < plan.rules.size(); ++i) {
        const std::string subject = "plan rule " + std::to_string(i + 1);
        check_regex(plan.rules[i].match, subject);
        check_choice(plan.rules[i].choice, subject);
    }
    for (const auto& [tensor, choice] : plan.overrides) check_choice(choice, "plan override of " + tensor);
}

nlohmann::json plan_to_json(const QuantPlan& plan) {
    json doc = {{"schema", std::string(kPlanSchema)}, {"version", kPlanVersion}};
    if (!plan.name.empty()) doc["name"] = plan.name;
    if (!plan.description.empty()) doc["description"] = plan.description;
    if (plan.fallback) doc["fallback"] = true;
    doc["default"] = {{"format", plan.defaults.format}, {"algorithm", plan.defaults.algorithm},
                      {"options", plan.defaults.options}};
    if (!plan.rules.empty()) {
        json rules = json::array();
        for (const auto& rule : plan.rules) {
            json r = {{"match", rule.match}};
            write_choice(r, rule.choice);
            if (!rule.note.empty()) r["note"] = rule.note;
            rules.push_back(std::move(r));
        }
        doc["rules"] = std::move(rules);
    }
    if (!plan.overrides.empty()) {
        json overrides = json::object();
        for (const auto& [tensor, choice] : plan.overrides) write_choice(overrides[tensor], choice);
        doc["overrides"] = std::move(overrides);
    }
    return doc;
}

QuantPlan plan_from_json(const nlohmann::json& doc, const std::string& subject) {
    require_object(doc, subject);
    check_header(doc, subject);
    reject_unknown_keys(doc, {"schema", "version", "name", "description", "fallback", "default", "rules", "overrides"},
                        subject);
    QuantPlan plan;
    if (doc.contains("name")) plan.name = read_string(doc["name"], subject + " name");
    if (doc.contains("description")) plan.description = read_string(doc["description"], subject + " description");
    if (doc.contains("fallback")) {
        if (!doc["fallback"].is_boolean()) throw Error(subject, "\"fallback\" must be true or false");
        plan.fallback = doc["fallback"].get<bool>();
    }
    if (!doc.contains("default")) throw Error(subject, "needs a \"default\" with a format");
    plan.defaults = read_defaults(doc["default"], subject + " default");
    if (doc.contains("rules")) {
        if (!doc["rules"].is_array()) throw Error(subject, "\"rules\" must be an array");
        for (size_t i = 0; i < doc["rules"].size(); ++i)
            plan.rules.push_back(read_rule(doc["rules"][i], subject + " rule " + std::to_string(i + 1)));
    }
    if (doc.contains("overrides")) {
        const json& overrides = require_object(doc["overrides"], subject + " overrides");
        for (const auto& [tensor, value] : overrides.items()) {
            const std::string where = subject + " override of " + tensor;
            reject_unknown_keys(require_object(value, where), {"format", "algorithm", "options"}, where);
            plan.overrides[tensor] = read_choice(value, where);
        }
    }
    try {
        validate_plan(plan);
    } catch (const Error& e) {
        throw Error(subject, e.what());
    }
    return plan;
}

QuantPlan load_plan(const std::filesystem::path& path) {
    return plan_from_json(read_json_file(path), path.string());
}

void save_plan(const QuantPlan& plan, const std::filesystem::path& path) {
    validate_plan(plan);
    const std::string text = plan_to_json(plan).dump(2) + "\n";
    AtomicFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace qb
