#include "core/plan/resolved_plan.h"

#include <algorithm>
#include <optional>
#include <regex>

#include "core/algo/algorithm.h"
#include "core/model/architecture.h"
#include "core/util/error.h"

namespace qb {
namespace {

// --- targets as data ---------------------------------------------------------------------------

// Empty when the target quantizes the tensor, else the reason it stays unquantized.
using NotQuantizedFn = std::string (*)(const TensorView& t);
// Storage of a tensor the plan keeps.
using KeepFormatFn = const FormatInfo& (*)(const TensorView& t);

struct TargetInfo {
    PlanTarget id;
    std::string_view name;
    std::optional<ExportTarget> exporter;  // whose storage rules apply; none: any format
    NotQuantizedFn not_quantized;
    KeepFormatFn keep_format;
};

const FormatInfo& f32() { return format_by_name("f32"); }

std::string one_dimensional(const TensorView& t) { return t.shape.size() < 2 ? "1-D tensor" : ""; }

std::string gguf_not_quantized(const TensorView& t) {
    if (t.shape.size() < 2) return "1-D tensor, stored f32 as llama.cpp does";
    if (tensor_role(t.name) == "position_embd") return "position embeddings are not quantized (as llama.cpp)";
    return {};
}

std::string gptq_not_quantized(const TensorView& t) {
    if (t.shape.size() < 2) return "1-D tensor";
    if (tensor_layer(t.name) < 0) return "GPTQ checkpoints quantize only the blocks' linear layers";
    return {};
}

const FormatInfo& keep_gguf(const TensorView& t) {
    if (t.shape.size() < 2 || !t.format->gguf_storable()) return f32();
    return *t.format;
}

// The safetensors exporters write every unquantized tensor in one dtype, f16 unless asked otherwise.
const FormatInfo& keep_safetensors(const TensorView&) { return format_by_name("f16"); }

const FormatInfo& keep_source(const TensorView& t) { return *t.format; }

const TargetInfo kTargets[] = {
    {PlanTarget::Gguf, "gguf", ExportTarget::Gguf, gguf_not_quantized, keep_gguf},
    {PlanTarget::SafetensorsFake, "safetensors-fake", ExportTarget::Safetensors, one_dimensional, keep_safetensors},
    {PlanTarget::Gptq, "gptq", ExportTarget::Gptq, gptq_not_quantized, keep_safetensors},
    {PlanTarget::Analysis, "analysis", std::nullopt, one_dimensional, keep_source},
};

const TargetInfo& target_info(PlanTarget target) {
    for (const auto& t : kTargets)
        if (t.id == target) return t;
    throw Error("target", "unknown target");
}

// llama.cpp's llama_tensor_get_type fallbacks for rows that do not fit a 256-value super-block.
struct Fallback {
    std::string_view from, to;
};
constexpr Fallback kFallbacks[] = {
    {"q4_k", "q5_0"}, {"q5_k", "q5_1"}, {"q6_k", "q8_0"}, {"q2_k", "iq4_nl"}, {"q3_k", "iq4_nl"}, {"iq4_xs", "iq4_nl"},
};
constexpr std::string_view kLastResort = "f16";
// Produces every format that can be encoded: what a plan falls back to when its algorithm cannot
// produce the format a tensor gets.
constexpr std::string_view kFallbackAlgorithm = "rtn";

// --- the choice a tensor gets from defaults, rules and overrides --------------------------------

struct Choice {
    std::string format;
    std::string algorithm;
    nlohmann::json options;
    DecisionOrigin origin = DecisionOrigin::Default;  // of the format
    int rule = 0;
    std::string note;
};

void apply(Choice& c, const PlanChoice& p, DecisionOrigin origin, int rule, const std::string& note) {
    if (p.format) {
        c.format = *p.format;
        c.origin = origin;
        c.rule = rule;
        c.note = note;
    }
    if (p.algorithm) {
        c.algorithm = *p.algorithm;
        c.options = nlohmann::json::object();
    }
    if (p.options) c.options.update(*p.options);
}

struct CompiledRule {
    std::regex pattern;
    const PlanRule* rule;
};

std::string origin_text(DecisionOrigin origin, int rule) {
    switch (origin) {
        case DecisionOrigin::Default: return "default";
        case DecisionOrigin::Rule: return "rule " + std::to_string(rule);
        case DecisionOrigin::Override: return "override";
        case DecisionOrigin::NotQuantized: return "kept";
    }
    return {};
}

std::string problem_on(const FormatInfo& f, const TensorView& t, const TargetInfo& target) {
    if (!f.can_encode()) return f.name + " can be read but not produced";
    return target.exporter ? storage_problem(*target.exporter, t, f) : f.shape_problem(t.cols());
}

class Resolver {
public:
    Resolver(const QuantPlan& plan, const Model& model, PlanTarget target, bool fallback)
        : plan_(plan), model_(model), target_(target_info(target)), fallback_(fallback) {
        validate_plan(plan);
        for (const auto& rule : plan.rules) rules_.push_back({std::regex(rule.match), &rule});
        for (const auto& [name, choice] : plan.overrides)
            if (!model.find(name))
                throw Error("plan override", "no tensor named '" + name + "' in " + model.source_path.string());
    }

    ResolvedPlan run() const {
        ResolvedPlan out;
        out.plan_name = plan_.name;
        out.target = target_.id;
        for (const auto& t : model_.tensors) out.tensors.push_back(assign(t));
        return out;
    }

private:
    TensorAssignment assign(const TensorView& t) const {
        if (!t.format) throw Error(t.name, "is stored in a type Quantbench cannot decode");
        TensorAssignment a;
        a.name = t.name;
        a.shape = t.shape;
        a.rows = t.rows();
        a.cols = t.cols();
        if (auto why = target_.not_quantized(t); !why.empty()) return kept(std::move(a), t, why);

        const Choice c = choice_for(t.name);
        a.origin = c.origin;
        a.rule = c.rule;
        a.rule_note = c.note;
        if (c.format == kKeepFormat) {
            a.keep = true;
            a.format = &target_.keep_format(t);
        } else {
            a.format = &checked_format(format_by_name(c.format), t, a);
            if (a.format->kind != FormatKind::Float) set_algorithm(a, c);
        }
        a.bytes = a.format->tensor_bytes(a.rows, a.cols);
        return a;
    }

    TensorAssignment kept(TensorAssignment a, const TensorView& t, const std::string& why) const {
        if (auto it = plan_.overrides.find(t.name);
            it != plan_.overrides.end() && it->second.format && *it->second.format != kKeepFormat && !fallback_)
            throw Error(t.name, "cannot be quantized for " + std::string(target_.name) + ": " + why);
        a.keep = true;
        a.origin = DecisionOrigin::NotQuantized;
        a.not_quantized_why = why;
        a.format = &target_.keep_format(t);
        a.bytes = a.format->tensor_bytes(a.rows, a.cols);
        return a;
    }

    Choice choice_for(const std::string& name) const {
        Choice c;
        c.format = plan_.defaults.format;
        c.algorithm = plan_.defaults.algorithm;
        c.options = plan_.defaults.options;
        for (size_t i = 0; i < rules_.size(); ++i)
            if (std::regex_search(name, rules_[i].pattern))
                apply(c, rules_[i].rule->choice, DecisionOrigin::Rule, int(i + 1), rules_[i].rule->note);
        if (auto it = plan_.overrides.find(name); it != plan_.overrides.end())
            apply(c, it->second, DecisionOrigin::Override, 0, "");
        return c;
    }

    const FormatInfo& checked_format(const FormatInfo& f, const TensorView& t, TensorAssignment& a) const {
        const std::string problem = problem_on(f, t, target_);
        if (problem.empty()) return f;
        if (!fallback_)
            throw Error(a.name, f.name + " (" + origin_text(a.origin, a.rule) + ") is not possible: " + problem +
                                    " (allow fallback to use the fallback table)");
        a.requested = f.name;
        a.fallback_problem = problem;
        return fallback_format(f, t, target_.id);
    }

    void set_algorithm(TensorAssignment& a, const Choice& c) const {
        a.algorithm = c.algorithm;
        a.options = c.options;
        const std::string problem = algorithm_format_problem(algorithm_by_name(c.algorithm), *a.format);
        if (problem.empty()) return;
        if (!fallback_)
            throw Error(a.name, c.algorithm + " cannot produce " + a.format->name + ": " + problem +
                                    " (allow fallback to use " + std::string(kFallbackAlgorithm) + ")");
        a.requested_algorithm = c.algorithm;
        a.algorithm_problem = problem;
        a.algorithm = kFallbackAlgorithm;
        a.options = nlohmann::json::object();
    }

    const QuantPlan& plan_;
    const Model& model_;
    const TargetInfo& target_;
    bool fallback_;
    std::vector<CompiledRule> rules_;
};

}  // namespace

std::string_view plan_target_name(PlanTarget target) { return target_info(target).name; }

std::optional<ExportTarget> plan_exporter(PlanTarget target) { return target_info(target).exporter; }

std::string plan_target_names() {
    std::string names;
    for (const auto& t : kTargets) names += (names.empty() ? "" : ", ") + std::string(t.name);
    return names;
}

PlanTarget plan_target_by_name(std::string_view name) {
    for (const auto& t : kTargets)
        if (t.name == name) return t.id;
    throw Error("target", "unknown target '" + std::string(name) + "' (known: " + plan_target_names() + ")");
}

std::string target_storage_problem(const FormatInfo& format, const TensorView& tensor, PlanTarget target) {
    return problem_on(format, tensor, target_info(target));
}

const FormatInfo& fallback_format(const FormatInfo& format, const TensorView& tensor, PlanTarget target) {
    std::string_view to = kLastResort;
    for (const auto& f : kFallbacks)
        if (f.from == format.name) to = f.to;
    const FormatInfo& candidate = format_by_name(to);
    if (problem_on(candidate, tensor, target_info(target)).empty()) return candidate;
    return format_by_name(kLastResort);
}

double TensorAssignment::bits_per_weight() const {
    return parameters() > 0 ? 8.0 * double(bytes) / double(parameters()) : 0.0;
}

std::string TensorAssignment::reason() const {
    if (origin == DecisionOrigin::NotQuantized) return "kept: " + not_quantized_why;
    std::string text = origin_text(origin, rule);
    if (!rule_note.empty()) text += " (" + rule_note + ")";
    if (keep) text += ": keep";
    if (!requested.empty()) text += ": fallback from " + requested + ": " + fallback_problem;
    if (!requested_algorithm.empty()) text += "; " + algorithm + " instead of " + requested_algorithm + ": " + algorithm_problem;
    return text;
}

uint64_t ResolvedPlan::total_bytes() const {
    uint64_t sum = 0;
    for (const auto& t : tensors) sum += t.bytes;
    return sum;
}

uint64_t ResolvedPlan::quantized_bytes() const {
    uint64_t sum = 0;
    for (const auto& t : tensors)
        if (t.quantized()) sum += t.bytes;
    return sum;
}

int64_t ResolvedPlan::parameters() const {
    int64_t sum = 0;
    for (const auto& t : tensors) sum += t.parameters();
    return sum;
}

double ResolvedPlan::bits_per_weight() const {
    const int64_t n = parameters();
    return n > 0 ? 8.0 * double(total_bytes()) / double(n) : 0.0;
}

size_t ResolvedPlan::fallback_count() const {
    return size_t(std::count_if(tensors.begin(), tensors.end(),
                                [](const auto& t) { return !t.requested.empty() || !t.requested_algorithm.empty(); }));
}

const TensorAssignment* ResolvedPlan::find(std::string_view name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

ResolvedPlan resolve_plan(const QuantPlan& plan, const Model& model, PlanTarget target, const ResolveOptions& options) {
    return Resolver(plan, model, target, options.fallback.value_or(plan.fallback)).run();
}

}  // namespace qb
