#include "core/model/model.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "core/model/model_sources.h"
#include "core/util/error.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

bool starts_with_gguf_magic(const fs::path& path) {
    char magic[4] = {};
    std::ifstream in(path, std::ios::binary);
    return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

// A Hugging Face folder: the sharded index, else model.safetensors, else its only .safetensors or .gguf.
fs::path model_file_in_folder(const fs::path& folder) {
    for (const char* name : {"model.safetensors.index.json", "model.safetensors"})
        if (fs::is_regular_file(folder / name)) return folder / name;
    for (const char* extension : {".safetensors", ".gguf"}) {
        std::vector<fs::path> found;
        for (const auto& entry : fs::directory_iterator(folder))
            if (entry.is_regular_file() && entry.path().extension() == extension) found.push_back(entry.path());
        if (found.size() == 1) return found.front();
        if (found.size() > 1)
            throw Error(folder.string(), "holds " + std::to_string(found.size()) + " " + extension +
                                             " files and no index saying how they belong together");
    }
    throw Error(folder.string(), "no model.safetensors, model.safetensors.index.json or .gguf file in the folder");
}

std::string tokenizer_label(TokenizerSource::Kind kind) {
    switch (kind) {
        case TokenizerSource::Kind::None: return "none";
        case TokenizerSource::Kind::GgufMetadata: return "GGUF metadata";
        case TokenizerSource::Kind::SentencePieceModel: return "tokenizer.model (SentencePiece)";
        case TokenizerSource::Kind::TokenizerJson: return "tokenizer.json";
        case TokenizerSource::Kind::Llama2cBin: return "llama2.c tokenizer";
    }
    return "?";
}

// "f32 x11, q8_0 x32", in order of first appearance.
std::string storage_types(const Model& model) {
    std::vector<std::pair<std::string, int>> counts;
    for (const auto& t : model.tensors) {
        const std::string name = t.format ? t.format->name : "undecodable";
        auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == name; });
        if (it == counts.end()) counts.emplace_back(name, 1);
        else ++it->second;
    }
    std::string s;
    for (const auto& [name, n] : counts) s += (s.empty() ? "" : ", ") + name + " x" + std::to_string(n);
    return s;
}

Model load_file(const fs::path& path) {
    if (starts_with_gguf_magic(path)) return load_gguf_model(path);
    const std::string extension = path.extension().string();
    if (extension == ".safetensors" || extension == ".json") return load_hf_model(path);
    if (extension == ".bin") return load_llama2c_model(path);
    if (extension == ".gguf") return load_gguf_model(path);  // reports the bad magic
    throw Error(path.string(), "not a model file Quantbench knows (GGUF, .safetensors, model.safetensors.index.json, "
                               "llama2.c .bin, or a folder holding them)");
}

}  // namespace

const TensorView* Model::find(const std::string& canonical_name) const {
    for (const auto& t : tensors)
        if (t.name == canonical_name) return &t;
    return nullptr;
}

const TensorView& Model::tensor(const std::string& canonical_name) const {
    if (const TensorView* t = find(canonical_name)) return *t;
    throw Error(source_path.string(), "the model has no tensor '" + canonical_name + "'");
}

int64_t Model::parameter_count() const {
    int64_t n = 0;
    for (const auto& t : tensors)
        if (!(hparams.tied_embeddings && t.name == "output")) n += t.numel();
    return n;
}

uint64_t Model::stored_bytes() const {
    std::set<const uint8_t*> seen;  // a tied output shares its bytes with token_embd
    uint64_t n = 0;
    for (const auto& t : tensors)
        if (seen.insert(t.data.data()).second) n += t.stored_bytes();
    return n;
}

Model load_model(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (!fs::exists(status)) throw Error(path.string(), "no such file or folder");
    Model model = fs::is_directory(status) ? load_file(model_file_in_folder(path)) : load_file(path);
    model.source_path = path;
    model.metadata["architecture"] = model.architecture;
    model.metadata["parameters"] = std::to_string(model.parameter_count());
    model.metadata["tensor types"] = storage_types(model);
    model.metadata["tokenizer"] = tokenizer_label(model.tokenizer.kind);
    return model;
}

}  // namespace qb
