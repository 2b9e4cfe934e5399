#include "core/io/json_text.h"
#include "core/io/safetensors_reader.h"
#include "core/model/model_builder.h"
#include "core/model/model_sources.h"
#include "core/util/error.h"

namespace qb {
namespace {

nlohmann::json read_config(const std::filesystem::path& model_path) {
    const auto config_path = model_path.parent_path() / "config.json";
    std::error_code ec;
    if (!std::filesystem::exists(config_path, ec))
        throw Error(model_path.string(), "no config.json beside the model (it states the architecture and hyper-parameters)");
    nlohmann::json config = read_json_file(config_path);
    if (!config.is_object()) throw Error(config_path.string(), "not a JSON object");
    return config;
}

const Architecture& config_architecture(const nlohmann::json& config, const std::string& subject) {
    std::string model_type;
    if (auto it = config.find("model_type"); it != config.end() && it->is_string()) model_type = it->get<std::string>();
    std::vector<std::string> classes;
    if (auto it = config.find("architectures"); it != config.end() && it->is_array())
        for (const auto& c : *it)
            if (c.is_string()) classes.push_back(c.get<std::string>());
    if (model_type.empty() && classes.empty())
        throw Error(subject, "neither 'model_type' nor 'architectures' says which architecture this is");
    return architecture_for_hf(model_type, classes, subject);
}

// The first config key of the parameter that holds a number or a bool; null counts as absent.
std::optional<double> config_value(const nlohmann::json& config, const Architecture& arch, HParam p) {
    const HParamSource* source = hparam_source(arch, p);
    if (!source) return std::nullopt;
    for (const auto& key : source->config_keys) {
        auto it = config.find(key);
        if (it == config.end()) continue;
        if (it->is_boolean()) return it->get<bool>() ? 1.0 : 0.0;
        if (it->is_number()) return it->get<double>();
    }
    return std::nullopt;
}

TokenizerSource find_tokenizer(const std::filesystem::path& folder) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(folder / "tokenizer.model", ec))
        return {TokenizerSource::Kind::SentencePieceModel, folder / "tokenizer.model"};
    if (std::filesystem::is_regular_file(folder / "tokenizer.json", ec))
        return {TokenizerSource::Kind::TokenizerJson, folder / "tokenizer.json"};
    return {};
}

}  // namespace

Model load_hf_model(const std::filesystem::path& path) {
    const nlohmann::json config = read_config(path);
    const std::string config_name = (path.parent_path() / "config.json").string();
    const Architecture& arch = config_architecture(config, config_name);
    auto set = std::make_shared<const SafetensorsSet>(path);

    std::vector<SourceTensor> sources;
    for (const auto& [t, shard] : set->tensors())
        sources.push_back({t->name, t->shape, t->format, t->data, shard->name(), shard});
    Model model;
    model.source_format = SourceFormat::Safetensors;
    model.source_path = path;
    build_canonical_model(model, arch, sources, [&](HParam p) { return config_value(config, arch, p); });
    model.tokenizer = find_tokenizer(path.parent_path());
    model.metadata["format"] = set->sharded() ? "safetensors, " + std::to_string(set->shards().size()) + " shards"
                                              : std::string("safetensors");
    return model;
}

}  // namespace qb
