#include "core/io/llama2c_reader.h"
#include "core/model/model_builder.h"
#include "core/model/model_sources.h"

namespace qb {
namespace {

std::optional<double> header_value(const Llama2cConfig& c, HParam p) {
    switch (p) {
        case HParam::Vocab: return double(c.vocab_size);
        case HParam::Embd: return double(c.dim);
        case HParam::Layers: return double(c.n_layers);
        case HParam::Heads: return double(c.n_heads);
        case HParam::HeadsKv: return double(c.n_kv_heads);
        case HParam::Ff: return double(c.hidden_dim);
        case HParam::Ctx: return double(c.seq_len);
        default: return std::nullopt;  // llama2.c fixes the rest: rope theta 1e4, eps 1e-5 (the llama defaults)
    }
}

}  // namespace

Model load_llama2c_model(const std::filesystem::path& path) {
    auto file = std::make_shared<const Llama2cFile>(path);
    const FormatInfo& f32 = format_by_name("f32");
    std::vector<SourceTensor> sources;
    for (const auto& t : file->tensors()) sources.push_back({t.name, t.shape, &f32, t.data, file->name(), file->mapping()});

    Model model;
    model.source_format = SourceFormat::Llama2c;
    model.source_path = path;
    build_canonical_model(model, architecture_by_name("llama"), sources,
                          [&](HParam p) { return header_value(file->config(), p); });
    if (auto tokenizer = file->tokenizer_path()) model.tokenizer = {TokenizerSource::Kind::Llama2cBin, *tokenizer};
    model.metadata["format"] = "llama2.c v" + std::to_string(file->config().version);
    return model;
}

}  // namespace qb
