#include "core/plan/presets.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "core/model/architecture.h"
#include "core/quant/format.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr PresetInfo kPresets[] = {
    {"q8_0", "q8_0", 7, "llama.cpp Q8_0: 8.5 bpw everywhere"},
    {"q6_k", "q6_k", 18, "llama.cpp Q6_K"},
    {"q5_k_m", "q5_k", 17, "llama.cpp Q5_K_M: q6_k for attn_v and ffn_down in use_more_bits layers"},
    {"q5_k_s", "q5_k", 16, "llama.cpp Q5_K_S"},
    {"q4_k_m", "q4_k", 15, "llama.cpp Q4_K_M: q6_k for attn_v and ffn_down in use_more_bits layers"},
    {"q4_k_s", "q4_k", 14, "llama.cpp Q4_K_S: q5_k for the first attn_v and ffn_down layers"},
    {"q3_k_l", "q3_k", 13, "llama.cpp Q3_K_L: q5_k attn_v, ffn_down and attn_output"},
    {"q3_k_m", "q3_k", 12, "llama.cpp Q3_K_M: q4_k/q5_k attn_v, ffn_down, q4_k attn_output"},
    {"q3_k_s", "q3_k", 11, "llama.cpp Q3_K_S"},
    {"q2_k", "q2_k", 10, "llama.cpp Q2_K: q3_k attn_v (q4_k with GQA >= 4), ffn_down and attn_output"},
    {"q4_0", "q4_0", 2, "llama.cpp Q4_0 (output q6_k)"},
    {"q5_0", "q5_0", 8, "llama.cpp Q5_0 (output q6_k)"},
    {"iq4_nl", "iq4_nl", 25, "llama.cpp IQ4_NL (q5_k attn_v with GQA >= 4, q5_k in the first ffn_down layers)"},
};

// When a mix rule applies, in terms of the tensor's layer i of n, the model and the preset's default type.
enum class When {
    Always,
    MoreBits,        // llama.cpp use_more_bits(i, n): i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
    FirstEighth,     // i < n/8
    FirstSixteenth,  // i < n/16
    BelowLayer2,     // i < 2
    BelowLayer4,     // i < 4
    Gqa4,            // n_head / n_head_kv >= 4
    RowNotInBlock,   // the row length is not a multiple of the default type's block
    Large70B,        // 80 layers with grouped-query attention: llama.cpp's LLM_TYPE_70B (Llama 2/3 70B, Qwen2 72B)
};

// llama_tensor_get_type as data: per role, the first rule whose presets include the preset and whose
// condition holds gives the type. `presets` lists preset names separated by spaces; "*" means all.
struct MixRule {
    std::string_view role;
    std::string_view presets;
    When when;
    std::string_view format;
    std::string_view note;
};

constexpr std::string_view kAllButQ8 = "q6_k q5_k_m q5_k_s q4_k_m q4_k_s q3_k_l q3_k_m q3_k_s q2_k q4_0 q5_0 iq4_nl";

constexpr MixRule kMixRules[] = {
    {"output", "*", When::RowNotInBlock, "q8_0", "output: rows do not fit the default type"},
    {"output", kAllButQ8, When::Always, "q6_k", "output"},
    {"attn_v", "q2_k", When::Gqa4, "q4_k", "attn_v with GQA >= 4"},
    {"attn_v", "q2_k", When::Always, "q3_k", "attn_v"},
    {"attn_v", "q3_k_m", When::BelowLayer2, "q5_k", "attn_v of the first 2 layers"},
    {"attn_v", "q3_k_m", When::Always, "q4_k", "attn_v"},
    {"attn_v", "q3_k_l", When::Always, "q5_k", "attn_v"},
    {"attn_v", "iq4_nl", When::Gqa4, "q5_k", "attn_v with GQA >= 4"},
    {"attn_v", "q4_k_m q5_k_m", When::MoreBits, "q6_k", "attn_v in use_more_bits layers"},
    {"attn_v", "q4_k_s", When::BelowLayer4, "q5_k", "attn_v of the first 4 layers"},
    {"ffn_down", "q2_k", When::Always, "q3_k", "ffn_down"},
    {"ffn_down", "q3_k_m", When::FirstSixteenth, "q5_k", "ffn_down of the first 1/16 of the layers"},
    {"ffn_down", "q3_k_m", When::Always, "q4_k", "ffn_down"},
    {"ffn_down", "q3_k_l", When::Always, "q5_k", "ffn_down"},
    {"ffn_down", "q4_k_m q5_k_m", When::MoreBits, "q6_k", "ffn_down in use_more_bits layers"},
    {"ffn_down", "q4_k_s iq4_nl", When::FirstEighth, "q5_k", "ffn_down of the first 1/8 of the layers"},
    {"attn_output", "q2_k", When::Always, "q3_k", "attn_output"},
    {"attn_output", "q3_k_m", When::Always, "q4_k", "attn_output"},
    {"attn_output", "q3_k_l", When::Always, "q5_k", "attn_output"},
    {"attn_qkv", "q3_k_m q3_k_l", When::Always, "q4_k", "attn_qkv"},
    {"attn_qkv", "q4_k_m", When::Always, "q5_k", "attn_qkv"},
    {"attn_qkv", "q5_k_m", When::Always, "q6_k", "attn_qkv"},
};

// Applied after the mix rules, to whatever type they chose (the default included).
struct MixUpgrade {
    std::string_view role;
    std::string_view from;  // formats separated by spaces
    When when;
    std::string_view to;
    std::string_view note;
};

constexpr MixUpgrade kUpgrades[] = {
    {"attn_v", "q3_k q4_k", When::Large70B, "q5_k", "attn_v of a 70B-class model"},
};

bool listed(std::string_view list, std::string_view word) {
    if (list == "*") return true;
    std::istringstream words{std::string(list)};
    for (std::string w; words >> w;)
        if (w == word) return true;
    return false;
}

struct TensorFacts {
    int64_t layer = -1;
    int64_t cols = 0;
};

bool holds(When when, const TensorFacts& t, const Model& model, const FormatInfo& default_format) {
    const int64_t i = t.layer, n = model.hparams.n_layer;
    const auto& h = model.hparams;
    const int64_t gqa = h.n_head_kv > 0 ? h.n_head / h.n_head_kv : 0;
    switch (when) {
        case When::Always: return true;
        case When::MoreBits: return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
        case When::FirstEighth: return i < n / 8;
        case When::FirstSixteenth: return i < n / 16;
        case When::BelowLayer2: return i < 2;
        case When::BelowLayer4: return i < 4;
        case When::Gqa4: return gqa >= 4;
        case When::RowNotInBlock: return t.cols % default_format.block_values != 0;
        case When::Large70B: return n == 80 && h.n_head_kv > 0 && h.n_head != h.n_head_kv;
    }
    return false;
}

struct Decision {
    std::string format;
    std::string note;
};

// The type llama_tensor_get_type gives a tensor before its shape fallback; nullopt: the preset's default.
std::optional<Decision> mix_decision(const PresetInfo& preset, const TensorView& t, const Model& model) {
    const std::string role = tensor_role(t.name);
    const FormatInfo& default_format = format_by_name(preset.default_format);
    const TensorFacts facts{tensor_layer(t.name), t.cols()};
    std::optional<Decision> decision;
    for (const auto& rule : kMixRules)
        if (rule.role == role && listed(rule.presets, preset.name) && holds(rule.when, facts, model, default_format)) {
            decision = Decision{std::string(rule.format), std::string(rule.note)};
            break;
        }
    const std::string chosen = decision ? decision->format : std::string(preset.default_format);
    for (const auto& up : kUpgrades)
        if (up.role == role && listed(up.from, chosen) && holds(up.when, facts, model, default_format))
            decision = Decision{std::string(up.to), std::string(up.note)};
    if (decision && decision->format == preset.default_format) return std::nullopt;
    return decision;
}

std::string escaped(std::string_view name) {
    std::string out;
    for (char c : name) {
        if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// "^blk\.(2|4)\.attn_v$" for block tensors (layers in order), "^output$" otherwise.
std::string name_pattern(const std::string& role, const std::vector<int64_t>& layers, const Model& model) {
    std::string pattern = "^";
    if (!layers.empty() && layers.front() >= 0) {
        pattern += "blk\\.";
        if (int64_t(layers.size()) == model.hparams.n_layer) {
            pattern += "\\d+";
        } else {
            pattern += "(";
            for (size_t i = 0; i < layers.size(); ++i) {
                if (i) pattern += "|";
                pattern += std::to_string(layers[i]);
            }
            pattern += ")";
        }
        pattern += "\\.";
    }
    return pattern + escaped(role) + "$";
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

}  // namespace

std::span<const PresetInfo> presets() { return kPresets; }

const PresetInfo* find_preset(std::string_view name) {
    const std::string key = lower(name);
    for (const auto& p : kPresets)
        if (p.name == key) return &p;
    return nullptr;
}

const PresetInfo& preset_by_name(std::string_view name) {
    if (const PresetInfo* p = find_preset(name)) return *p;
    std::string known;
    for (const auto& p : kPresets) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw Error("preset", "unknown preset '" + std::string(name) + "' (known: " + known + ")");
}

QuantPlan preset_plan(std::string_view name, const Model& model) {
    const PresetInfo& preset = preset_by_name(name);
    QuantPlan plan = uniform_plan(preset.default_format);
    plan.name = std::string(preset.name);
    plan.description = std::string(preset.description) + " (llama-quantize c392e509) for this " + model.architecture +
                       " model of " + std::to_string(model.hparams.n_layer) + " layers";
    plan.fallback = true;

    // Tensors that leave the default, grouped into one rule per (role, format, note) in model order.
    struct Group {
        std::string role, format, note;
        std::vector<int64_t> layers;
    };
    std::vector<Group> groups;
    for (const auto& t : model.tensors) {
        if (t.shape.size() < 2) continue;
        const auto decision = mix_decision(preset, t, model);
        if (!decision) continue;
        const std::string role = tensor_role(t.name);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
            return g.role == role && g.format == decision->format && g.note == decision->note;
        });
        if (it == groups.end()) it = groups.insert(groups.end(), {role, decision->format, decision->note, {}});
        it->layers.push_back(tensor_layer(t.name));
    }
    for (const auto& g : groups) {
        PlanRule rule;
        rule.match = name_pattern(g.role, g.layers, model);
        rule.choice.format = g.format;
        rule.note = g.note;
        plan.rules.push_back(std::move(rule));
    }
    return plan;
}

}  // namespace qb
