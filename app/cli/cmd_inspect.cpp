#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/model/architecture.h"
#include "core/model/model.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out;
    for (int64_t d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
    return out;
}

nlohmann::json hparams_json(const qb::HyperParams& h) {
    return {{"n_vocab", h.n_vocab},     {"n_embd", h.n_embd},         {"n_layer", h.n_layer},
            {"n_head", h.n_head},       {"n_head_kv", h.n_head_kv},   {"head_dim", h.head_dim},
            {"n_ff", h.n_ff},           {"n_ctx", h.n_ctx},           {"rope_dims", h.rope_dims},
            {"rope_theta", h.rope_theta}, {"norm_eps", h.norm_eps},   {"tied_embeddings", h.tied_embeddings},
            {"parallel_residual", h.parallel_residual}};
}

nlohmann::json model_json(const qb::Model& m) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : m.tensors)
        tensors.push_back({{"name", t.name},
                           {"source_name", t.source_name},
                           {"role", qb::tensor_role(t.name)},
                           {"layer", qb::tensor_layer(t.name)},
                           {"shape", t.shape},
                           {"dtype", t.format ? t.format->name : "?"},
                           {"parameters", t.numel()},
                           {"bytes", t.stored_bytes()}});
    return {{"path", m.source_path.string()},
            {"architecture", m.architecture},
            {"hparams", hparams_json(m.hparams)},
            {"tokenizer_path", m.tokenizer.path.string()},
            {"metadata", m.metadata},
            {"parameters", m.parameter_count()},
            {"bytes", m.stored_bytes()},
            {"tensors", tensors}};
}

void print_model(const qb::Model& m) {
    const auto& h = m.hparams;
    std::printf("%-13s %s\n", "model", m.source_path.c_str());
    for (const auto& [key, value] : m.metadata) std::printf("%-13s %s\n", key.c_str(), value.c_str());
    std::printf("dimensions    vocab %" PRId64 ", embd %" PRId64 ", layers %" PRId64 ", heads %" PRId64 " (kv %" PRId64
                ", head dim %" PRId64 "), ff %" PRId64 ", ctx %" PRId64 "\n",
                h.n_vocab, h.n_embd, h.n_layer, h.n_head, h.n_head_kv, h.head_dim, h.n_ff, h.n_ctx);
    std::printf("rope          theta %g, %" PRId64 " dims; norm eps %g; tied embeddings %s\n", h.rope_theta,
                h.rope_dims, h.norm_eps, h.tied_embeddings ? "yes" : "no");
    if (!m.tokenizer.path.empty()) std::printf("%-13s %s\n", "tokenizer at", m.tokenizer.path.c_str());
    std::printf("%-13s %zu tensors, %" PRIu64 " bytes\n\n", "stored", m.tensors.size(), m.stored_bytes());
    std::printf("%-24s %-12s %-12s %-7s %12s %12s\n", "tensor", "role", "shape", "dtype", "params", "bytes");
    for (const auto& t : m.tensors)
        std::printf("%-24s %-12s %-12s %-7s %12" PRId64 " %12zu\n", t.name.c_str(), qb::tensor_role(t.name).c_str(),
                    shape_text(t.shape).c_str(), t.format ? t.format->name.c_str() : "?", t.numel(), t.stored_bytes());
}

}  // namespace

int run_inspect(const CommandArgs& argv) {
    Args args(argv, {{}, {"json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", "inspect MODEL [--json]");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    if (args.flag("json"))
        std::printf("%s\n", model_json(model).dump(2).c_str());
    else
        print_model(model);
    return 0;
}

}  // namespace qbcli
