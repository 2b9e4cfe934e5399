#include "core/export/gguf_export.h"

#include <algorithm>
#include <map>
#include <optional>

#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/io/json_text.h"
#include "core/model/architecture.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr uint32_t kQuantizationVersion = 2;

// ggml type -> llama_ftype (llama.h). K-quants map to their _M mix, the one llama-quantize names after them.
const std::map<int, uint32_t> kFileTypes = {
    {0, 0},   {1, 1},   {2, 2},   {3, 3},   {8, 7},   {6, 8},   {7, 9},  {10, 10},
    {11, 12}, {12, 15}, {13, 17}, {14, 18}, {20, 25}, {23, 30}, {30, 32},
};

bool is_quantized(const FormatInfo& f) { return f.kind == FormatKind::GgufBlock; }

bool any_quantized(const std::vector<PlannedTensor>& tensors) {
    return std::any_of(tensors.begin(), tensors.end(), [](const PlannedTensor& t) { return is_quantized(*t.format); });
}

// GGUF types as llama.cpp's converter writes them: counts u32, reals f32, flags bool.
std::optional<GgufValue> hparam_value(HParam p, const HyperParams& hp) {
    const std::optional<double> v = hparam_number(p, hp);
    // key_length is written only when llama.cpp's default (n_embd / n_head) would be wrong.
    if (!v || (p == HParam::HeadDim && hp.head_dim == hp.n_embd / hp.n_head)) return std::nullopt;
    if (p == HParam::ParallelResidual) return gguf_bool(*v != 0);
    return is_count(p) ? gguf_u32(uint32_t(*v)) : gguf_f32(float(*v));
}

std::string default_model_name(const Model& source) {
    if (source.source_format == SourceFormat::Llama2c) return source.source_path.stem().string();
    const std::filesystem::path folder =
        std::filesystem::is_directory(source.source_path) ? source.source_path : source.source_path.parent_path();
    std::error_code ec;
    if (std::filesystem::is_regular_file(folder / "config.json", ec)) {
        const nlohmann::json config = read_json_file(folder / "config.json");
        if (auto it = config.find("_name_or_path"); it != config.end() && it->is_string() && !it->get<std::string>().empty())
            return std::filesystem::path(it->get<std::string>()).filename().string();
    }
    return std::filesystem::absolute(folder).lexically_normal().filename().string();
}

std::string pre_tokenizer_name(PreTokenizer pre) {
    switch (pre) {
        case PreTokenizer::Gpt2: return "gpt-2";
        case PreTokenizer::Llama3: return "llama-bpe";
        case PreTokenizer::Qwen2: return "qwen2";
    }
    return "default";
}

void add_tokenizer(std::vector<GgufKv>& kvs, const Vocabulary& vocab) {
    const bool unigram = vocab.algorithm == TokenizerAlgorithm::Unigram;
    const bool spm = vocab.algorithm == TokenizerAlgorithm::SentencePiece || unigram;  // scored pieces, no merges
    kvs.push_back({"tokenizer.ggml.model", gguf_string(unigram ? "t5" : spm ? "llama" : "gpt2")});
    if (!spm) kvs.push_back({"tokenizer.ggml.pre", gguf_string(pre_tokenizer_name(vocab.pre_tokenizer))});
    kvs.push_back({"tokenizer.ggml.tokens", gguf_strings(vocab.pieces)});
    if (spm) kvs.push_back({"tokenizer.ggml.scores", gguf_f32_array(vocab.scores)});
    std::vector<int32_t> types;
    for (TokenType t : vocab.types) types.push_back(int32_t(t));
    kvs.push_back({"tokenizer.ggml.token_type", gguf_i32_array(types)});
    if (!spm) {
        std::vector<std::string> merges;
        for (const auto& [left, right] : vocab.merges) merges.push_back(left + " " + right);
        kvs.push_back({"tokenizer.ggml.merges", gguf_strings(std::move(merges))});
    }
    const std::pair<const char*, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", vocab.bos_id},
                                                   {"tokenizer.ggml.eos_token_id", vocab.eos_id},
                                                   {"tokenizer.ggml.unknown_token_id", vocab.unk_id},
                                                   {"tokenizer.ggml.padding_token_id", vocab.pad_id}};
    for (const auto& [key, id] : ids)
        if (id >= 0) kvs.push_back({key, gguf_u32(uint32_t(id))});
    kvs.push_back({"tokenizer.ggml.add_bos_token", gguf_bool(vocab.add_bos)});
    kvs.push_back({"tokenizer.ggml.add_eos_token", gguf_bool(false)});  // Quantbench's tokenizers never append EOS
    if (spm && !vocab.add_space_prefix) kvs.push_back({"tokenizer.ggml.add_space_prefix", gguf_bool(false)});
    if (unigram) {
        kvs.push_back({"tokenizer.ggml.remove_extra_whitespaces", gguf_bool(vocab.remove_extra_whitespaces)});
        std::vector<uint64_t> charsmap;
        for (const char c : vocab.precompiled_charsmap) charsmap.push_back(uint8_t(c));
        if (!charsmap.empty())
            kvs.push_back({"tokenizer.ggml.precompiled_charsmap", GgufValue{GgufType::Array, GgufType::U8, std::move(charsmap)}});
    }
}

std::vector<GgufKv> built_metadata(const Model& source, const ExportPlan& plan, const std::vector<PlannedTensor>& tensors) {
    const Architecture& arch = architecture_by_name(source.architecture, source.source_path.string());
    std::vector<GgufKv> kvs = {
        {"general.architecture", gguf_string(arch.gguf_name)},
        {"general.name", gguf_string(default_model_name(source))},
        {"general.file_type", gguf_u32(llama_file_type(tensors))},
    };
    if (any_quantized(tensors)) kvs.push_back({"general.quantization_version", gguf_u32(kQuantizationVersion)});
    for (const HParamSource& s : arch.hparams)
        if (auto value = hparam_value(s.param, source.hparams); value && !s.gguf_key.empty())
            kvs.push_back({arch.gguf_name + "." + s.gguf_key, std::move(*value)});
    if (source.tokenizer.kind != TokenizerSource::Kind::None) add_tokenizer(kvs, model_tokenizer(source).vocabulary());
    return kvs;
}

// The source's key/values in file order; file type and quantization version describe the new mix.
std::vector<GgufKv> copied_metadata(const GgufFile& file, const std::vector<PlannedTensor>& tensors) {
    const bool quantized = any_quantized(tensors);
    std::vector<GgufKv> kvs;
    for (const std::string& key : file.metadata_keys()) {
        if (key.starts_with("quantbench.") || (key == "general.quantization_version" && !quantized)) continue;
        if (key == "general.file_type") kvs.push_back({key, gguf_u32(llama_file_type(tensors))});
        else if (key == "general.quantization_version") kvs.push_back({key, gguf_u32(kQuantizationVersion)});
        else kvs.push_back({key, file.get(key)});
    }
    const auto has = [&](std::string_view key) {
        return std::any_of(kvs.begin(), kvs.end(), [&](const GgufKv& kv) { return kv.key == key; });
    };
    if (quantized && !has("general.quantization_version"))
        kvs.push_back({"general.quantization_version", gguf_u32(kQuantizationVersion)});
    if (!has("general.file_type")) kvs.push_back({"general.file_type", gguf_u32(llama_file_type(tensors))});
    return kvs;
}

void set_string(std::vector<GgufKv>& kvs, const std::string& key, const std::string& value, const std::string& subject) {
    auto it = std::find_if(kvs.begin(), kvs.end(), [&](const GgufKv& kv) { return kv.key == key; });
    if (it == kvs.end()) kvs.push_back({key, gguf_string(value)});
    else if (it->value.type == GgufType::String) it->value = gguf_string(value);
    else throw Error(subject, "metadata key '" + key + "' holds a number or array; the plan can only set string keys");
}

std::vector<GgufTensorSpec> tensor_specs(const std::vector<PlannedTensor>& tensors) {
    std::vector<GgufTensorSpec> specs;
    for (const auto& t : tensors)
        specs.push_back({gguf_tensor_name(t.name), {t.source->shape.rbegin(), t.source->shape.rend()},
                         t.format->ggml_type, t.produce});
    return specs;
}

}  // namespace

std::string gguf_tensor_name(std::string_view canonical) {
    return is_bias(canonical) ? std::string(canonical) : std::string(canonical) + ".weight";
}

uint32_t llama_file_type(const std::vector<PlannedTensor>& tensors) {
    std::map<int, int64_t> weights;  // ggml type -> values stored in 2-D tensors of that type
    for (const auto& t : tensors)
        if (t.source->shape.size() >= 2 && kFileTypes.count(t.format->ggml_type)) weights[t.format->ggml_type] += t.source->numel();
    const auto most = std::max_element(weights.begin(), weights.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    return most == weights.end() ? 0 : kFileTypes.at(most->first);
}

std::vector<GgufKv> gguf_export_metadata(const Model& source, const ExportPlan& plan,
                                         const std::vector<PlannedTensor>& tensors) {
    std::vector<GgufKv> kvs = source.gguf ? copied_metadata(*std::static_pointer_cast<const GgufFile>(source.gguf), tensors)
                                          : built_metadata(source, plan, tensors);
    kvs.push_back({"quantbench.version", gguf_string(QB_VERSION)});
    kvs.push_back({"quantbench.source", gguf_string(source.source_path.filename().string())});
    kvs.push_back({"quantbench.plan", gguf_string(plan_summary(plan, tensors))});
    for (const auto& [key, value] : plan.metadata) set_string(kvs, key, value, plan.output.string());
    return kvs;
}

GgufLayout gguf_export_layout(const Model& source, const ExportPlan& plan) {
    const std::vector<PlannedTensor> tensors = resolve_export_plan(plan, source, nullptr);
    return gguf_layout(gguf_export_metadata(source, plan, tensors), tensor_specs(tensors), plan.output.string());
}

uint64_t export_gguf(const Model& source, const ExportPlan& plan, const JobControl* job, Model* intended) {
    const std::vector<PlannedTensor> tensors = resolve_export_plan(plan, source, intended);
    const uint64_t size = write_gguf(plan.output, gguf_export_metadata(source, plan, tensors), tensor_specs(tensors), job);
    finish_intended(plan, source, intended);
    return size;
}

}  // namespace qb
