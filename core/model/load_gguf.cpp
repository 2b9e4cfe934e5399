#include <charconv>

#include "core/io/gguf_reader.h"
#include "core/model/model_builder.h"
#include "core/model/model_sources.h"
#include "core/util/error.h"

namespace qb {
namespace {

// An f32 value is read as the shortest decimal that prints it (1e-5f -> 1e-5), so hyper-parameters
// agree with the same model's config.json.
double shortest_decimal(float f) {
    char text[32];
    const auto printed = std::to_chars(text, text + sizeof text, f);
    double d = f;
    std::from_chars(text, printed.ptr, d);
    return d;
}

std::optional<double> metadata_number(const GgufFile& file, const std::string& key) {
    const GgufValue* v = file.find(key);
    if (!v) return std::nullopt;
    if (auto b = std::get_if<bool>(&v->value)) return *b ? 1.0 : 0.0;
    if (v->type == GgufType::F32) return shortest_decimal(float(v->as_double()));
    if (v->is_integer() || std::holds_alternative<double>(v->value)) return v->as_double();
    throw Error(file.name(), "metadata key '" + key + "' is not a number");
}

}  // namespace

Model load_gguf_model(const std::filesystem::path& path) {
    auto file = std::make_shared<const GgufFile>(path);
    const GgufValue& arch_value = file->get("general.architecture");
    if (arch_value.type != GgufType::String) throw Error(file->name(), "general.architecture is not a string");
    const Architecture& arch = architecture_for_gguf(arch_value.as_string(), file->name());

    std::vector<SourceTensor> sources;
    for (const auto& t : file->tensors()) {
        std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());  // ggml lists the innermost dimension first
        sources.push_back({t.name, std::move(shape), t.format, t.data, file->name(), file});
    }
    Model model;
    model.source_format = SourceFormat::Gguf;
    model.source_path = path;
    model.gguf = file;
    build_canonical_model(model, arch, sources, [&](HParam p) -> std::optional<double> {
        const HParamSource* source = hparam_source(arch, p);
        if (!source || source->gguf_key.empty()) return std::nullopt;
        return metadata_number(*file, arch.gguf_name + "." + source->gguf_key);
    });
    if (file->find("tokenizer.ggml.model")) model.tokenizer = {TokenizerSource::Kind::GgufMetadata, path};
    model.metadata["format"] = "GGUF v" + std::to_string(file->version());
    if (const GgufValue* name = file->find("general.name"); name && name->type == GgufType::String)
        model.metadata["name"] = name->as_string();
    return model;
}

}  // namespace qb
