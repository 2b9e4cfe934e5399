#include "core/infer/tokenizer_loaders.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/infer/sentencepiece_model.h"
#include "core/io/gguf_reader.h"
#include "core/util/byte_reader.h"
#include "core/util/error.h"
#include "core/util/mapped_file.h"

namespace qb {
namespace {

using json = nlohmann::json;

// ---- shared helpers ----

std::optional<TokenType> token_type_from_int(int64_t value) {
    if (value < 1 || value > 6) return std::nullopt;
    return TokenType(value);
}

// Merge rules are stored as "left right"; the first character is never the separator.
std::pair<std::string, std::string> split_merge(const std::string& rule, const std::string& file) {
    const size_t space = rule.find(' ', 1);
    if (space == std::string::npos) throw Error(file, "merge rule '" + rule + "' has no space between its two parts");
    return {rule.substr(0, space), rule.substr(space + 1)};
}

struct PreTokenizerName {
    std::string_view name;
    PreTokenizer pre_tokenizer;
    bool ignore_merges;
    bool add_bos;  // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
};

// tokenizer.ggml.pre values (llama.cpp names) with the pattern they use.
constexpr PreTokenizerName kGgufPreTokenizers[] = {
    {"default", PreTokenizer::Gpt2, false, false},    {"gpt-2", PreTokenizer::Gpt2, false, false},
    {"gpt2", PreTokenizer::Gpt2, false, false},       {"mpt", PreTokenizer::Gpt2, false, false},
    {"olmo", PreTokenizer::Gpt2, false, false},       {"jais", PreTokenizer::Gpt2, false, false},
    {"llama3", PreTokenizer::Llama3, true, true},     {"llama-v3", PreTokenizer::Llama3, true, true},
    {"llama-bpe", PreTokenizer::Llama3, true, true},  {"falcon3", PreTokenizer::Llama3, true, true},
    {"dbrx", PreTokenizer::Llama3, false, false},     {"smaug-bpe", PreTokenizer::Llama3, false, false},
    {"qwen2", PreTokenizer::Qwen2, false, false},     {"deepseek-r1-qwen", PreTokenizer::Qwen2, false, false},
    {"stablelm2", PreTokenizer::Qwen2, false, false},
};

// Split regexes of Hugging Face tokenizer.json files.
constexpr std::pair<std::string_view, PreTokenizer> kSplitRegexes[] = {
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", PreTokenizer::Gpt2},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     PreTokenizer::Llama3},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     PreTokenizer::Qwen2},
};

// ---- GGUF ----

class GgufTokenizerKeys {
public:
    explicit GgufTokenizerKeys(const GgufFile& gguf) : gguf_(gguf) {}

    const GgufValue* find(const std::string& key) const { return gguf_.find("tokenizer.ggml." + key); }

    // Converts a value, turning a type mismatch into an error that names the file and key.
    template <typename Fn>
    auto convert(const std::string& key, Fn&& fn) const {
        const GgufValue* value = find(key);
        try {
            return fn(*value);
        } catch (const Error& e) {
            throw Error(gguf_.name(), "tokenizer.ggml." + key + ": " + e.problem());
        }
    }
    void read_id(const std::string& key, int32_t& id) const {
        if (find(key)) id = int32_t(convert(key, [](const GgufValue& v) { return v.as_int(); }));
    }
    void read_flag(const std::string& key, bool& flag) const {
        if (find(key)) flag = convert(key, [](const GgufValue& v) { return v.as_bool(); });
    }
    std::string name() const { return gguf_.name(); }

private:
    const GgufFile& gguf_;
};

void read_gguf_pieces(const GgufTokenizerKeys& keys, Vocabulary& vocab) {
    if (!keys.find("tokens")) throw Error(keys.name(), "GGUF has no tokenizer.ggml.tokens");
    vocab.pieces = keys.convert("tokens", [](const GgufValue& v) { return v.as_strings(); });
    const size_t n = vocab.pieces.size();
    const auto check_count = [&](const std::string& key, size_t count) {
        if (count != n)
            throw Error(keys.name(), "tokenizer.ggml." + key + " has " + std::to_string(count) + " entries for " +
                                         std::to_string(n) + " tokens");
    };
    vocab.types.assign(n, TokenType::Normal);
    if (keys.find("token_type")) {
        const auto types = keys.convert("token_type", [](const GgufValue& v) { return v.as_ints(); });
        check_count("token_type", types.size());
        for (size_t i = 0; i < n; ++i) {
            const auto type = token_type_from_int(types[i]);
            if (!type) throw Error(keys.name(), "token " + std::to_string(i) + " has unknown type " + std::to_string(types[i]));
            vocab.types[i] = *type;
        }
    }
    if (vocab.algorithm == TokenizerAlgorithm::ByteLevelBpe) return;
    vocab.scores.assign(n, 0.0f);
    if (keys.find("scores")) {
        const auto scores = keys.convert("scores", [](const GgufValue& v) { return v.as_doubles(); });
        check_count("scores", scores.size());
        vocab.scores.assign(scores.begin(), scores.end());
    }
}

void read_gguf_bpe_rules(const GgufTokenizerKeys& keys, Vocabulary& vocab) {
    if (!keys.find("merges")) throw Error(keys.name(), "GGUF BPE tokenizer has no tokenizer.ggml.merges");
    for (const auto& rule : keys.convert("merges", [](const GgufValue& v) { return v.as_strings(); }))
        vocab.merges.push_back(split_merge(rule, keys.name()));
    const std::string pre =
        keys.find("pre") ? keys.convert("pre", [](const GgufValue& v) { return v.as_string(); }) : "default";
    for (const auto& known : kGgufPreTokenizers) {
        if (known.name != pre) continue;
        vocab.pre_tokenizer = known.pre_tokenizer;
        vocab.ignore_merges = known.ignore_merges;
        vocab.add_bos = known.add_bos;
        return;
    }
    throw Error(keys.name(), "pre-tokenizer '" + pre + "' (tokenizer.ggml.pre) is not supported");
}

Vocabulary read_gguf_vocabulary(const GgufFile& gguf) {
    const GgufTokenizerKeys keys(gguf);
    if (!keys.find("model")) throw Error(gguf.name(), "GGUF has no tokenizer (tokenizer.ggml.model is missing)");
    const std::string model = keys.convert("model", [](const GgufValue& v) { return v.as_string(); });
    Vocabulary vocab;
    vocab.source = gguf.name();
    if (model == "llama") {
        vocab.algorithm = TokenizerAlgorithm::SentencePiece;
        vocab.bos_id = 1;
        vocab.eos_id = 2;
        vocab.unk_id = 0;
        vocab.add_bos = true;
        vocab.add_space_prefix = true;
    } else if (model == "gpt2") {
        vocab.algorithm = TokenizerAlgorithm::ByteLevelBpe;
    } else if (model == "t5") {  // SentencePiece unigram (llama.cpp's UGM), with llama.cpp's T5 defaults
        vocab.algorithm = TokenizerAlgorithm::Unigram;
        vocab.eos_id = 1;
        vocab.unk_id = 2;
        vocab.pad_id = 0;
        vocab.add_space_prefix = true;
    } else {
        throw Error(gguf.name(), "tokenizer model '" + model + "' is not supported (only llama, gpt2 and t5)");
    }
    read_gguf_pieces(keys, vocab);
    if (vocab.algorithm == TokenizerAlgorithm::ByteLevelBpe) read_gguf_bpe_rules(keys, vocab);
    keys.read_id("bos_token_id", vocab.bos_id);
    keys.read_id("eos_token_id", vocab.eos_id);
    keys.read_id("unknown_token_id", vocab.unk_id);
    keys.read_id("padding_token_id", vocab.pad_id);
    keys.read_flag("add_bos_token", vocab.add_bos);
    if (vocab.algorithm != TokenizerAlgorithm::ByteLevelBpe) {
        keys.read_flag("add_space_prefix", vocab.add_space_prefix);
        keys.read_flag("remove_extra_whitespaces", vocab.remove_extra_whitespaces);
    }
    if (vocab.algorithm == TokenizerAlgorithm::Unigram && keys.find("precompiled_charsmap")) {
        for (const int64_t byte : keys.convert("precompiled_charsmap", [](const GgufValue& v) { return v.as_ints(); })) {
            if (byte < -128 || byte > 255)
                throw Error(gguf.name(), "tokenizer.ggml.precompiled_charsmap holds " + std::to_string(byte) + ", not a byte");
            vocab.precompiled_charsmap += char(uint8_t(byte));
        }
    }
    return vocab;
}

// ---- llama2.c tok*.bin ----

Vocabulary read_llama2c_vocabulary(const std::filesystem::path& path) {
    const MappedFile file(path);
    ByteReader in(file.bytes(), file.name());
    const int32_t max_token_length = in.read<int32_t>("max_token_length");
    constexpr int32_t kLongestPlausiblePiece = 1 << 16;
    if (max_token_length <= 0 || max_token_length > kLongestPlausiblePiece)
        in.fail("not a llama2.c tokenizer: max_token_length is " + std::to_string(max_token_length));
    Vocabulary vocab;
    vocab.algorithm = TokenizerAlgorithm::SentencePiece;
    vocab.source = file.name();
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
    while (in.remaining() > 0) {
        const std::string token = "token " + std::to_string(vocab.pieces.size());
        const float score = in.read<float>(token + " score");
        const int32_t length = in.read<int32_t>(token + " length");
        if (length < 0 || length > max_token_length)
            in.fail("not a llama2.c tokenizer: " + token + " has length " + std::to_string(length) +
                    " (max_token_length " + std::to_string(max_token_length) + ")");
        std::string piece(reinterpret_cast<const char*>(in.take(uint64_t(length), token + " text")), size_t(length));
        vocab.scores.push_back(score);
        vocab.pieces.push_back(std::move(piece));
    }
    // llama2.c's export spells spaces as ' ' and wraps BOS/EOS in newlines; restore SentencePiece's spelling.
    vocab.types.assign(vocab.pieces.size(), TokenType::Normal);
    for (size_t id = 0; id < vocab.pieces.size(); ++id) {
        std::string& piece = vocab.pieces[id];
        if (piece == "\n<s>\n" || piece == "\n</s>\n") {
            piece = piece.substr(1, piece.size() - 2);
            vocab.types[id] = TokenType::Control;
            (piece == "<s>" ? vocab.bos_id : vocab.eos_id) = int32_t(id);
        } else if (piece == "<unk>") {
            vocab.types[id] = TokenType::Unknown;
            vocab.unk_id = int32_t(id);
        } else if (byte_piece_value(piece)) {
            vocab.types[id] = TokenType::Byte;
        } else {
            piece = spaces_to_sentencepiece(piece);
        }
    }
    if (vocab.bos_id < 0) vocab.add_bos = false;
    return vocab;
}

// ---- Hugging Face tokenizer.json ----

json parse_json_file(const std::filesystem::path& path) {
    const MappedFile file(path);
    try {
        return json::parse(file.bytes().begin(), file.bytes().end());
    } catch (const json::exception& e) {
        throw Error(file.name(), std::string("invalid JSON: ") + e.what());
    }
}

// A special token in tokenizer_config.json is a string or {"content": ...}.
std::optional<std::string> special_token_text(const json& config, const char* key) {
    const auto it = config.find(key);
    if (it == config.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
    return std::nullopt;
}

void read_json_pre_tokenizer(const json& pre, const std::string& file, Vocabulary& vocab) {
    const auto unsupported = [&](const std::string& what) {
        throw Error(file, "pre_tokenizer " + what + " is not supported (needs ByteLevel, optionally after a Split "
                                                    "with the GPT-2, Llama 3 or Qwen2 pattern)");
    };
    if (!pre.is_object()) unsupported("null");
    const std::string type = pre.value("type", "");
    if (type == "ByteLevel") {
        if (pre.value("add_prefix_space", false)) unsupported("ByteLevel with add_prefix_space");
        if (!pre.value("use_regex", true)) unsupported("ByteLevel without a regex");
        vocab.pre_tokenizer = PreTokenizer::Gpt2;
        return;
    }
    const json& steps = pre.value("pretokenizers", json::array());
    if (type != "Sequence" || steps.size() != 2 || steps[0].value("type", "") != "Split" ||
        steps[1].value("type", "") != "ByteLevel")
        unsupported("'" + pre.dump().substr(0, 200) + "'");
    const std::string regex = steps[0].value("pattern", json::object()).value("Regex", "");
    for (const auto& [known, pre_tokenizer] : kSplitRegexes) {
        if (known != regex) continue;
        vocab.pre_tokenizer = pre_tokenizer;
        return;
    }
    unsupported("Split regex '" + regex + "'");
}

// A token id: an integer (a float such as 1e34 has no int64 value), and, as every id below the largest must
// have a piece, below the number of pieces the file defines (vocab entries plus added tokens), so that no
// table is sized by an absurd id.
int64_t json_id(const json& value, size_t defined, const std::string& file, const std::string& what) {
    if (!value.is_number_integer()) throw Error(file, what + " has id " + value.dump().substr(0, 40) + ", not an integer");
    const int64_t id = value.get<int64_t>();  // an unsigned id beyond int64 wraps negative and is refused here
    if (id < 0 || uint64_t(id) >= defined)
        throw Error(file, what + " has id " + std::to_string(id) + ", outside the " + std::to_string(defined) +
                              " tokens the file defines");
    return id;
}

void read_json_model(const json& model, size_t defined, const std::string& file, Vocabulary& vocab) {
    if (!model.is_object() || model.value("type", "") != "BPE")
        throw Error(file, "tokenizer model type '" + (model.is_object() ? model.value("type", "?") : "?") +
                              "' is not supported (only BPE)");
    for (const auto& [piece, id] : model.at("vocab").items()) {
        const int64_t index = json_id(id, defined, file, "token '" + piece + "'");
        if (size_t(index) >= vocab.pieces.size()) vocab.pieces.resize(size_t(index) + 1);
        vocab.pieces[size_t(index)] = piece;
    }
    for (const json& rule : model.at("merges")) {
        if (rule.is_string()) vocab.merges.push_back(split_merge(rule.get<std::string>(), file));
        else vocab.merges.emplace_back(rule.at(0).get<std::string>(), rule.at(1).get<std::string>());
    }
    vocab.ignore_merges = model.value("ignore_merges", false);
}

void read_json_added_tokens(const json& added, size_t defined, const std::string& file, Vocabulary& vocab) {
    for (const json& token : added) {
        const int64_t id = json_id(token.at("id"), defined, file, "added token");
        if (size_t(id) >= vocab.pieces.size()) {
            vocab.pieces.resize(size_t(id) + 1);
            vocab.types.resize(size_t(id) + 1, TokenType::Normal);
        }
        vocab.pieces[size_t(id)] = token.at("content").get<std::string>();
        vocab.types[size_t(id)] = token.value("special", false) ? TokenType::Control : TokenType::UserDefined;
    }
}

// Special ids and add_bos: tokenizer_config.json beside the file, else the post-processor's template.
void read_json_specials(const json& root, const std::filesystem::path& path, Vocabulary& vocab) {
    const PieceIndex index(vocab.pieces);
    const auto id_of = [&](const std::optional<std::string>& text) { return text ? index.find(*text) : -1; };
    if (const json& unk = root.at("model").value("unk_token", json()); unk.is_string())
        vocab.unk_id = index.find(unk.get<std::string>());
    const auto config_path = path.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(config_path)) {
        const json config = parse_json_file(config_path);
        vocab.bos_id = id_of(special_token_text(config, "bos_token"));
        vocab.eos_id = id_of(special_token_text(config, "eos_token"));
        vocab.pad_id = id_of(special_token_text(config, "pad_token"));
        if (const int32_t unk = id_of(special_token_text(config, "unk_token")); unk >= 0) vocab.unk_id = unk;
        vocab.add_bos = config.value("add_bos_token", false) && vocab.bos_id >= 0;
        if (config.contains("add_bos_token")) return;
    }
    // A TemplateProcessing whose single-sequence template starts with a special token prepends it: that is BOS.
    std::function<void(const json&)> visit = [&](const json& processor) {
        if (!processor.is_object()) return;
        if (processor.value("type", "") == "Sequence") {
            for (const json& p : processor.value("processors", json::array())) visit(p);
            return;
        }
        if (processor.value("type", "") != "TemplateProcessing") return;
        const json& single = processor.value("single", json::array());
        if (single.empty() || !single[0].contains("SpecialToken")) return;
        const int32_t bos = index.find(single[0]["SpecialToken"].value("id", ""));
        if (bos < 0) return;
        vocab.bos_id = bos;
        vocab.add_bos = true;
    };
    visit(root.value("post_processor", json()));
}

Vocabulary read_json_vocabulary(const std::filesystem::path& path) {
    const json root = parse_json_file(path);
    const std::string file = path.string();
    Vocabulary vocab;
    vocab.algorithm = TokenizerAlgorithm::ByteLevelBpe;
    vocab.source = file;
    try {
        const json& added = root.value("added_tokens", json::array());
        const json& model = root.at("model");
        const size_t defined = (model.is_object() ? model.value("vocab", json::object()).size() : 0) + added.size();
        read_json_model(model, defined, file, vocab);
        vocab.types.assign(vocab.pieces.size(), TokenType::Normal);
        read_json_added_tokens(added, defined, file, vocab);
        read_json_pre_tokenizer(root.value("pre_tokenizer", json()), file, vocab);
        read_json_specials(root, path, vocab);
    } catch (const json::exception& e) {
        throw Error(file, std::string("unexpected tokenizer.json structure: ") + e.what());
    }
    for (size_t id = 0; id < vocab.pieces.size(); ++id)
        if (vocab.pieces[id].empty()) throw Error(file, "token id " + std::to_string(id) + " has no piece");
    return vocab;
}

}  // namespace

Tokenizer load_tokenizer_from_gguf(const GgufFile& gguf) { return Tokenizer(read_gguf_vocabulary(gguf)); }

Tokenizer load_tokenizer_from_gguf(const std::filesystem::path& path) { return load_tokenizer_from_gguf(GgufFile(path)); }

Tokenizer load_tokenizer_from_sentencepiece_model(const std::filesystem::path& path) {
    const MappedFile file(path);
    return Tokenizer(read_sentencepiece_model(file.bytes(), file.name()));
}

Tokenizer load_tokenizer_from_json(const std::filesystem::path& path) { return Tokenizer(read_json_vocabulary(path)); }

Tokenizer load_tokenizer_from_llama2c(const std::filesystem::path& path) {
    return Tokenizer(read_llama2c_vocabulary(path));
}

Tokenizer load_tokenizer(const TokenizerSource& source) {
    switch (source.kind) {
        case TokenizerSource::Kind::GgufMetadata: return load_tokenizer_from_gguf(source.path);
        case TokenizerSource::Kind::SentencePieceModel: return load_tokenizer_from_sentencepiece_model(source.path);
        case TokenizerSource::Kind::TokenizerJson: return load_tokenizer_from_json(source.path);
        case TokenizerSource::Kind::Llama2cBin: return load_tokenizer_from_llama2c(source.path);
        case TokenizerSource::Kind::None: break;
    }
    throw Error(source.path.string(), "the model has no tokenizer");
}

}  // namespace qb
