// QuantPlan: what to do with every weight tensor of a model, written as defaults, ordered rules and
// per-tensor overrides (resolve it against a model and an export target with resolve_plan()).
//
// A choice names a format from the registry (core/quant/format.h: "q4_k", "int4_g128_asym", ...) or
// "keep" (store the tensor unquantized), the algorithm that picks the values (core/algo/algorithm.h:
// "rtn", "imatrix", "gptq", "awq", "hqq") and that algorithm's options as a JSON object
// ({"damp": 0.01, "act_order": true}; the algorithm checks them when it runs).
// A tensor starts from the defaults; every rule whose regular expression is found in its canonical name
// ("blk.3.attn_v"; ECMAScript syntax, searched like llama.cpp's --tensor-type) then applies in order, so
// later rules win; an override for the tensor's name applies last. Each applies only the fields it sets:
// setting an algorithm replaces the options, setting options alone adds or replaces keys.
//
// JSON schema ("quantbench.plan", version 1); unknown keys are rejected; load(save(plan)) == plan and
// saving a loaded file gives back the text save wrote:
//   {
//     "schema": "quantbench.plan", "version": 1,
//     "name": "q4_k_m",                       optional
//     "description": "...",                   optional
//     "fallback": false,                      optional: resolve unstorable choices by the fallback table
//     "default": {"format": "q4_k", "algorithm": "rtn", "options": {}},    format required, rtn and {} by default
//     "rules": [{"match": "attn_v", "format": "q6_k", "note": "why"}, ...],   optional
//     "overrides": {"blk.0.ffn_down": {"format": "q8_0", "algorithm": "gptq", "options": {"damp": 0.1}}}
//   }
// A rule or override sets at least one of format, algorithm, options.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace qb {

inline constexpr std::string_view kKeepFormat = "keep";
inline constexpr std::string_view kPlanSchema = "quantbench.plan";
inline constexpr int kPlanVersion = 1;

struct PlanChoice {
    std::optional<std::string> format;      // registry name or "keep"
    std::optional<std::string> algorithm;
    std::optional<nlohmann::json> options;  // a JSON object
    bool operator==(const PlanChoice&) const = default;
};

struct PlanRule {
    std::string match;  // regular expression searched in the canonical name
    PlanChoice choice;
    std::string note;   // why the rule exists, shown in reasons
    bool operator==(const PlanRule&) const = default;
};

struct PlanDefaults {
    std::string format;
    std::string algorithm = "rtn";
    nlohmann::json options = nlohmann::json::object();
    bool operator==(const PlanDefaults&) const = default;
};

struct QuantPlan {
    std::string name;
    std::string description;
    bool fallback = false;
    PlanDefaults defaults;
    std::vector<PlanRule> rules;
    std::map<std::string, PlanChoice> overrides;  // canonical tensor name -> choice
    bool operator==(const QuantPlan&) const = default;
};

// A plan quantizing everything (that can be) to one format.
QuantPlan uniform_plan(std::string_view format);

// Parses a "REGEX=FORMAT" command-line rule (split at the last '='); throws Error("rule", ...).
PlanRule parse_rule_text(std::string_view text);

// Structural checks that need no model: schema, types, known formats and algorithms, options objects,
// compilable regular expressions. Errors name the offending part ("plan rule 2: ...").
void validate_plan(const QuantPlan& plan);

nlohmann::json plan_to_json(const QuantPlan& plan);
QuantPlan plan_from_json(const nlohmann::json& doc, const std::string& subject = "plan");
QuantPlan load_plan(const std::filesystem::path& path);              // errors name the file
void save_plan(const QuantPlan& plan, const std::filesystem::path& path);  // atomic write, 2-space JSON

}  // namespace qb
