#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/export/gguf_export.h"
#include "core/infer/bpe_pretokenizer.h"
#include "core/infer/tokenizer_loaders.h"
#include "core/io/gguf_writer.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

using qbtest::read_file;

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::filesystem::path vocab_fixture(const std::string& name) {
    return qbtest::data_path("tokenizers/llamacpp-vocab/" + name);
}

struct FixtureCase {
    std::string text;
    std::vector<int32_t> ids;
};

// llama.cpp's test-tokenizer-0 fixtures: strings separated by "\n__ggml_vocab_test__\n", one id line per string.
std::vector<FixtureCase> read_fixture(const std::string& vocab_name) {
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string inputs = read_file(vocab_fixture(vocab_name + ".inp"));
    std::vector<FixtureCase> cases;
    for (size_t begin = 0, hit; (hit = inputs.find(separator, begin)) != std::string::npos; begin = hit + separator.size())
        cases.push_back({inputs.substr(begin, hit - begin), {}});
    std::istringstream outputs(read_file(vocab_fixture(vocab_name + ".out")));
    std::string line;
    for (auto& c : cases) {
        std::getline(outputs, line);
        std::istringstream numbers(line);
        for (int32_t id; numbers >> id;) c.ids.push_back(id);
    }
    return cases;
}

QString ids_text(const std::vector<int32_t>& ids) {
    QStringList parts;
    for (int32_t id : ids) parts << QString::number(id);
    return parts.join(' ');
}

// Encodes every fixture string without BOS; fails naming the first mismatch and the count matched.
void expect_fixture_ids(const Tokenizer& tokenizer, const std::vector<FixtureCase>& cases) {
    size_t matched = 0;
    QString first_mismatch;
    for (const auto& c : cases) {
        const auto ids = tokenizer.encode(c.text, false);
        if (ids == c.ids) ++matched;
        else if (first_mismatch.isEmpty())
            first_mismatch = QString("'%1': got [%2], expected [%3]")
                                 .arg(QString::fromStdString(c.text), ids_text(ids), ids_text(c.ids));
    }
    qInfo("%zu / %zu fixture strings matched", matched, cases.size());
    QVERIFY2(matched == cases.size(), qPrintable(first_mismatch));
}

std::string tinystories() { return read_file(qbtest::data_path("text/tinystories-snippet-30k.txt")); }

const std::vector<int32_t> kOnceUponATime = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};

std::filesystem::path stories_sentencepiece() { return qbtest::data_path("models/stories260K/hf/tokenizer.model"); }
std::filesystem::path stories_llama2c() { return qbtest::data_path("models/stories260K/llama2c/tok512.bin"); }

std::vector<std::string> words(PreTokenizer pre, std::string_view text) {
    std::vector<std::string> out;
    for (auto w : pre_tokenize(pre, text)) out.emplace_back(w);
    return out;
}

// A Hugging Face tokenizer.json holding the GGUF GPT-2 vocabulary, with the given pre_tokenizer.
std::filesystem::path write_gpt2_tokenizer_json(const nlohmann::json& pre_tokenizer, const std::string& dir_name) {
    const auto gguf = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-2.gguf"));
    const Vocabulary& vocab = gguf.vocabulary();
    nlohmann::json j;
    j["model"]["type"] = "BPE";
    for (int32_t id = 0; id < vocab.size(); ++id)
        if (vocab.types[id] == TokenType::Normal) j["model"]["vocab"][vocab.pieces[id]] = id;
    j["model"]["merges"] = nlohmann::json::array();
    for (const auto& [left, right] : vocab.merges) j["model"]["merges"].push_back(nlohmann::json::array({left, right}));
    j["added_tokens"] = {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}};
    j["pre_tokenizer"] = pre_tokenizer;
    const auto dir = qbtest::scratch_dir() / dir_name;
    std::filesystem::create_directories(dir);
    write_file(dir / "tokenizer.json", j.dump());
    return dir / "tokenizer.json";
}

// ---- SentencePiece unigram fixtures (tests/data/tokenizers, made by make_unigram_fixtures.py) ----

std::filesystem::path unigram_fixture(const std::string& name) {
    return std::filesystem::path(QB_TEST_FIXTURES_DIR) / "tokenizers" / name;
}

const nlohmann::json& unigram_expected() {
    static const nlohmann::json expected = nlohmann::json::parse(read_file(unigram_fixture("unigram-expected.json")));
    return expected;
}

const char* const kUnigramModels[] = {"unigram-plain.model", "unigram-bytes.model", "unigram-user.model",
                                      "unigram-rules.model"};

// Every string and text head of one model's fixture: SentencePiece's ids, and its decoded text wherever no
// <unk> is involved (SentencePiece shows <unk> as " ⁇ ", Quantbench as U+FFFD).
void expect_unigram_fixture(const Tokenizer& tokenizer, const std::string& model_name) {
    const nlohmann::json& expected = unigram_expected()["models"][model_name];
    std::vector<std::pair<std::string, const nlohmann::json*>> cases;
    for (const auto& c : expected["cases"]) cases.emplace_back(c["text"].get<std::string>(), &c);
    for (const auto& f : expected["files"])
        cases.emplace_back(read_file(qbtest::data_path(f["file"].get<std::string>())).substr(0, f["bytes"].get<size_t>()), &f);
    QVERIFY(cases.size() > 10);
    for (const auto& [text, c] : cases) {
        const auto want = (*c)["ids"].get<std::vector<int32_t>>();
        const auto ids = tokenizer.encode(text, false);
        QVERIFY2(ids == want, qPrintable(QString("%1 '%2': got [%3], expected [%4]")
                                              .arg(QString::fromStdString(model_name), QString::fromStdString(text.substr(0, 80)),
                                                   ids_text(ids).left(300), ids_text(want).left(300))));
        if (std::find(ids.begin(), ids.end(), tokenizer.unk_id()) == ids.end())
            QCOMPARE(tokenizer.decode(ids), (*c)["decoded"].get<std::string>());
    }
}

// A vocabulary-only GGUF holding `vocab` as llama.cpp's convert script writes a T5 tokenizer.
std::filesystem::path write_t5_gguf(const Vocabulary& vocab, const std::string& name) {
    std::vector<int32_t> types;
    for (TokenType t : vocab.types) types.push_back(int32_t(t));
    std::vector<uint64_t> charsmap;
    for (char c : vocab.precompiled_charsmap) charsmap.push_back(uint8_t(c));
    std::vector<GgufKv> kvs = {
        {"general.architecture", gguf_string("t5")},
        {"tokenizer.ggml.model", gguf_string("t5")},
        {"tokenizer.ggml.tokens", gguf_strings(vocab.pieces)},
        {"tokenizer.ggml.scores", gguf_f32_array(vocab.scores)},
        {"tokenizer.ggml.token_type", gguf_i32_array(types)},
        {"tokenizer.ggml.unknown_token_id", gguf_u32(uint32_t(vocab.unk_id))},
        {"tokenizer.ggml.add_space_prefix", gguf_bool(vocab.add_space_prefix)},
        {"tokenizer.ggml.remove_extra_whitespaces", gguf_bool(vocab.remove_extra_whitespaces)},
    };
    if (!charsmap.empty())
        kvs.push_back({"tokenizer.ggml.precompiled_charsmap", GgufValue{GgufType::Array, GgufType::U8, charsmap}});
    const auto path = qbtest::scratch_dir() / name;
    write_gguf(path, kvs, {});
    return path;
}

// A hand-made unigram vocabulary: "<unk>" (unless left out), "▁a", "a", "b".
Vocabulary tiny_unigram(bool with_unknown) {
    Vocabulary vocab;
    vocab.algorithm = TokenizerAlgorithm::Unigram;
    vocab.source = "tiny.model";
    vocab.pieces = {"<unk>", "\xE2\x96\x81" "a", "a", "b"};
    vocab.scores = {0.0f, -1.0f, -2.0f, -3.0f};
    vocab.types = {with_unknown ? TokenType::Unknown : TokenType::Normal, TokenType::Normal, TokenType::Normal, TokenType::Normal};
    vocab.unk_id = with_unknown ? 0 : -1;
    vocab.add_space_prefix = true;
    return vocab;
}

}  // namespace

class TokenizersTest : public QObject {
    Q_OBJECT
private slots:
    void reproduces_llamacpp_spm_fixture_ids() {
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-llama-spm.gguf"));
        QCOMPARE(tokenizer.algorithm(), TokenizerAlgorithm::SentencePiece);
        QCOMPARE(tokenizer.vocab_size(), 32000);
        const auto cases = read_fixture("ggml-vocab-llama-spm.gguf");
        QCOMPARE(cases.size(), size_t(46));
        expect_fixture_ids(tokenizer, cases);
    }

    void reproduces_llamacpp_gpt2_fixture_ids() {
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-2.gguf"));
        QCOMPARE(tokenizer.algorithm(), TokenizerAlgorithm::ByteLevelBpe);
        QCOMPARE(tokenizer.vocab_size(), 50257);
        QVERIFY(!tokenizer.add_bos_default());
        const auto cases = read_fixture("ggml-vocab-gpt-2.gguf");
        QCOMPARE(cases.size(), size_t(46));
        expect_fixture_ids(tokenizer, cases);
    }

    void byte_level_decode_inverts_encode_on_the_fixture_strings() {
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-2.gguf"));
        for (const auto& c : read_fixture("ggml-vocab-gpt-2.gguf"))
            QCOMPARE(tokenizer.decode(tokenizer.encode(c.text, false)), c.text);
    }

    void gpt_neox_vocabulary_tokenizes_with_the_gpt2_pattern() {
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-neox.gguf"));
        QCOMPARE(tokenizer.vocab_size(), 50432);
        QCOMPARE(tokenizer.vocabulary().pre_tokenizer, PreTokenizer::Gpt2);
        QCOMPARE(tokenizer.encode("Hello world", false), (std::vector<int32_t>{12092, 1533}));
        const std::string code = "def f(x):\n        return x  # eight spaces\n";
        QCOMPARE(tokenizer.decode(tokenizer.encode(code, false)), code);
    }

    void stories260k_gguf_encodes_the_reference_sentence() {
        const auto tokenizer = load_tokenizer_from_gguf(qbtest::stories260k("gguf"));
        QVERIFY(tokenizer.add_bos_default());
        QCOMPARE(tokenizer.bos_id(), 1);
        QCOMPARE(tokenizer.eos_id(), 2);
        QCOMPARE(tokenizer.unk_id(), 0);
        QCOMPARE(tokenizer.encode("Once upon a time, there was a little girl named Lily."), kOnceUponATime);
    }

    void stories260k_tokenizer_model_encodes_the_reference_sentence() {
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(stories_sentencepiece());
        QCOMPARE(tokenizer.vocab_size(), 512);
        QCOMPARE(tokenizer.encode("Once upon a time, there was a little girl named Lily.", true), kOnceUponATime);
    }

    void stories260k_llama2c_tokenizer_encodes_the_reference_sentence() {
        const auto tokenizer = load_tokenizer_from_llama2c(stories_llama2c());
        QCOMPARE(tokenizer.vocab_size(), 512);
        QCOMPARE(tokenizer.token_to_piece(1), std::string("<s>"));
        QCOMPARE(tokenizer.bos_id(), 1);
        QCOMPARE(tokenizer.eos_id(), 2);
        QCOMPARE(tokenizer.encode("Once upon a time, there was a little girl named Lily.", true), kOnceUponATime);
    }

    void stories260k_sources_agree_on_the_whole_tinystories_snippet() {
        const std::string text = tinystories();
        const auto gguf = load_tokenizer(TokenizerSource{TokenizerSource::Kind::GgufMetadata, qbtest::stories260k("gguf")});
        const auto model = load_tokenizer(TokenizerSource{TokenizerSource::Kind::SentencePieceModel, stories_sentencepiece()});
        const auto llama2c = load_tokenizer(TokenizerSource{TokenizerSource::Kind::Llama2cBin, stories_llama2c()});
        const auto ids = gguf.encode(text, true);
        QVERIFY(ids.size() > 5000);
        QCOMPARE(model.encode(text, true), ids);
        QCOMPARE(llama2c.encode(text, true), ids);
        QCOMPARE(model.vocabulary().pieces, gguf.vocabulary().pieces);
        QCOMPARE(llama2c.vocabulary().pieces, gguf.vocabulary().pieces);
        QCOMPARE(llama2c.vocabulary().types, gguf.vocabulary().types);
    }

    void stories260k_cuts_wikitext_into_llamacpps_1580_perplexity_chunks_quickly() {
        const std::string wiki = read_file(qbtest::data_path("text/wiki.test.raw"));
        const auto tokenizer = load_tokenizer_from_gguf(qbtest::stories260k("gguf"));
        QElapsedTimer timer;
        timer.start();
        const auto ids = tokenizer.encode(wiki, true);
        const qint64 elapsed_ms = timer.elapsed();
        qInfo("wiki.test.raw: %zu tokens in %lld ms", ids.size(), elapsed_ms);
        QCOMPARE(ids.size(), size_t(809290));  // checked against an independent whole-text SentencePiece merge
        QCOMPARE(ids.size() / 512, size_t(1580));
        QVERIFY2(elapsed_ms < 3000, "tokenization has become super-linear");
    }

    void decode_inverts_encode_on_the_tinystories_snippet() {
        const std::string text = tinystories();
        for (const auto& path : {qbtest::stories260k("gguf"), stories_sentencepiece()}) {
            const auto tokenizer = path.extension() == ".gguf" ? load_tokenizer_from_gguf(path)
                                                                : load_tokenizer_from_sentencepiece_model(path);
            QCOMPARE(tokenizer.decode(tokenizer.encode(text, true)), text);
        }
    }

    void unknown_characters_fall_back_to_byte_tokens_and_decode_back() {
        const auto tokenizer = load_tokenizer_from_gguf(qbtest::stories260k("gguf"));
        const std::string text = "Tom saw a 🦙 and 3€.";
        const auto ids = tokenizer.encode(text, false);
        const auto& pieces = tokenizer.vocabulary().pieces;
        QVERIFY(std::find(ids.begin(), ids.end(), 3 + 0xF0) != ids.end());  // <0xF0>, the llama's first byte
        QCOMPARE(pieces[3 + 0xF0], std::string("<0xF0>"));
        QCOMPARE(tokenizer.token_to_piece(3 + 0xF0), std::string("\xF0"));
        QCOMPARE(tokenizer.decode(ids), text);
        const std::vector<int32_t> unknown = {tokenizer.unk_id()};
        QCOMPARE(tokenizer.decode(unknown), std::string("\uFFFD"));
    }

    void leading_and_repeated_spaces_survive_a_round_trip() {
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-llama-spm.gguf"));
        for (const std::string text : {" Hello", "  two  spaces  ", "\n\nnewlines first", "tab\tand end "})
            QCOMPARE(tokenizer.decode(tokenizer.encode(text, true)), text);
    }

    void special_token_text_is_plain_text_unless_parsing_is_asked_for() {
        const auto tokenizer = load_tokenizer_from_gguf(qbtest::stories260k("gguf"));
        const auto plain = tokenizer.encode("<s>Hi", false);
        QVERIFY(std::find(plain.begin(), plain.end(), 1) == plain.end());
        QCOMPARE(tokenizer.decode(plain), std::string("<s>Hi"));
        const auto parsed = tokenizer.encode("<s>Hi", false, true);
        QCOMPARE(parsed.front(), 1);
        // After a special token the dummy prefix is added again, as at the start of a text.
        const std::vector<int32_t> rest(parsed.begin() + 1, parsed.end());
        QCOMPARE(rest, tokenizer.encode("Hi", false));
        QCOMPARE(tokenizer.decode(parsed), std::string("Hi"));
    }

    void llama2_tokenizer_model_is_the_llamacpp_spm_vocabulary() {
        const auto model = load_tokenizer_from_sentencepiece_model(qbtest::data_path("tokenizers/llama2-32k/tokenizer.model"));
        QCOMPARE(model.vocab_size(), 32000);
        QVERIFY(!model.vocabulary().remove_extra_whitespaces);
        const auto gguf = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-llama-spm.gguf"));
        QCOMPARE(model.vocabulary().pieces, gguf.vocabulary().pieces);
        QCOMPARE(model.vocabulary().scores, gguf.vocabulary().scores);
        QCOMPARE(model.vocabulary().types, gguf.vocabulary().types);
        expect_fixture_ids(model, read_fixture("ggml-vocab-llama-spm.gguf"));
    }

    void sentencepiece_whitespace_normalization_is_opt_in() {
        const auto llamacpp_style = load_tokenizer_from_sentencepiece_model(stories_sentencepiece());
        QVERIFY(llamacpp_style.vocabulary().remove_extra_whitespaces);
        const auto sentencepiece_style = llamacpp_style.with_sentencepiece_whitespace();
        const std::string messy = "  Lily   ran  home. ";
        QCOMPARE(sentencepiece_style.encode(messy, true), llamacpp_style.encode("Lily ran home.", true));
        QVERIFY(llamacpp_style.encode(messy, true) != llamacpp_style.encode("Lily ran home.", true));
        QCOMPARE(sentencepiece_style.encode("   ", true), std::vector<int32_t>{1});
    }

    void tokenizer_json_gives_the_same_ids_as_the_gguf_vocabulary() {
        const auto path = write_gpt2_tokenizer_json(
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}, "gpt2-json");
        const auto json_tokenizer = load_tokenizer(TokenizerSource{TokenizerSource::Kind::TokenizerJson, path});
        QCOMPARE(json_tokenizer.vocab_size(), 50257);
        expect_fixture_ids(json_tokenizer, read_fixture("ggml-vocab-gpt-2.gguf"));
        // Control tokens in text stay text by default; parsing them is opt-in.
        QCOMPARE(json_tokenizer.encode("a<|endoftext|>", false, true), (std::vector<int32_t>{64, 50256}));
        QVERIFY(json_tokenizer.encode("a<|endoftext|>", false).size() > 2);
    }

    void tokenizer_json_split_regex_selects_the_llama3_pre_tokenizer() {
        const std::string llama3_regex =
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
        nlohmann::json pre = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"Regex", llama3_regex}}}, {"behavior", "Isolated"}},
                                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
        const auto tokenizer = load_tokenizer_from_json(write_gpt2_tokenizer_json(pre, "llama3-json"));
        QCOMPARE(tokenizer.vocabulary().pre_tokenizer, PreTokenizer::Llama3);
        // Digits go in groups of three: "12345" -> "123" "45".
        const auto gguf = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-2.gguf"));
        auto expected = gguf.encode("123", false);
        const auto tail = gguf.encode("45", false);
        expected.insert(expected.end(), tail.begin(), tail.end());
        QCOMPARE(tokenizer.encode("12345", false), expected);
    }

    void gpt2_pre_tokenizer_splits_like_the_regex() {
        QCOMPARE(words(PreTokenizer::Gpt2, "Hello world's  end!!\n\n 42x"),
                 (std::vector<std::string>{"Hello", " world", "'s", " ", " end", "!!", "\n\n", " 42", "x"}));
        QCOMPARE(words(PreTokenizer::Gpt2, "We'Ve   "), (std::vector<std::string>{"We", "'", "Ve", "   "}));
    }

    void llama3_pre_tokenizer_splits_like_the_regex() {
        QCOMPARE(words(PreTokenizer::Llama3, "We'VE 1234567 (ok)\r\n\n  x  "),
                 (std::vector<std::string>{"We", "'VE", " ", "123", "456", "7", " (", "ok", ")\r\n\n", " ", " x", "  "}));
        QCOMPARE(words(PreTokenizer::Llama3, "a \n\tb"), (std::vector<std::string>{"a", " \n", "\tb"}));
        QCOMPARE(words(PreTokenizer::Llama3, "Führer日本"), (std::vector<std::string>{"Führer日本"}));
    }

    void qwen2_pre_tokenizer_splits_digits_one_by_one() {
        QCOMPARE(words(PreTokenizer::Qwen2, "x=2024;"), (std::vector<std::string>{"x", "=", "2", "0", "2", "4", ";"}));
    }

    void pre_tokenizers_keep_invalid_utf8_bytes() {
        const std::string text = "ab\xFF\xC3 c\xE2\x82";
        for (PreTokenizer pre : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2}) {
            std::string joined;
            for (const auto& w : words(pre, text)) joined += w;
            QCOMPARE(joined, text);
        }
        const auto tokenizer = load_tokenizer_from_gguf(vocab_fixture("ggml-vocab-gpt-2.gguf"));
        QCOMPARE(tokenizer.decode(tokenizer.encode(text, false)), text);
    }

    void unigram_models_reproduce_sentencepiece_ids_exactly() {
        for (const std::string name : kUnigramModels) {
            const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture(name));
            QCOMPARE(tokenizer.algorithm(), TokenizerAlgorithm::Unigram);
            QCOMPARE(tokenizer.vocab_size(), unigram_expected()["models"][name]["vocab_size"].get<int32_t>());
            expect_unigram_fixture(tokenizer, name);
        }
    }

    void unigram_gguf_vocabulary_tokenizes_like_its_tokenizer_model() {
        for (const std::string name : kUnigramModels) {
            const auto model = load_tokenizer_from_sentencepiece_model(unigram_fixture(name));
            const auto gguf = load_tokenizer_from_gguf(write_t5_gguf(model.vocabulary(), name + ".gguf"));
            QCOMPARE(gguf.algorithm(), TokenizerAlgorithm::Unigram);
            QCOMPARE(gguf.vocabulary().pieces, model.vocabulary().pieces);
            QCOMPARE(gguf.vocabulary().precompiled_charsmap, model.vocabulary().precompiled_charsmap);
            QVERIFY(!gguf.add_bos_default());  // llama.cpp's T5 default
            QCOMPARE(gguf.eos_id(), 1);
            expect_unigram_fixture(gguf, name);
        }
    }

    void unigram_byte_fallback_decodes_back_to_the_exact_text() {
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture("unigram-bytes.model"));
        QVERIFY(!tokenizer.vocabulary().remove_extra_whitespaces);
        for (const auto& c : unigram_expected()["models"]["unigram-bytes.model"]["cases"]) {
            const std::string text = c["text"].get<std::string>();
            QCOMPARE(tokenizer.decode(tokenizer.encode(text, true)), text);
        }
        const std::string wiki = read_file(qbtest::data_path("text/wiki.test.raw")).substr(0, 100000);
        QCOMPARE(tokenizer.decode(tokenizer.encode(wiki, true)), wiki);
        // "日" is not a piece: its three UTF-8 bytes come out as <0xE6> <0x97> <0xA5>.
        const auto& pieces = tokenizer.vocabulary().pieces;
        const auto ids = tokenizer.encode("日", false);
        QCOMPARE(ids.size(), size_t(4));
        QCOMPARE(pieces[ids[1]] + pieces[ids[2]] + pieces[ids[3]], std::string("<0xE6><0x97><0xA5>"));
    }

    void unigram_without_byte_pieces_merges_a_run_of_unknown_characters_into_one_unk() {
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture("unigram-plain.model"));
        const auto ids = tokenizer.encode("日本語のテキスト", false);
        QCOMPARE(ids.size(), size_t(2));
        QCOMPARE(tokenizer.vocabulary().pieces[ids[0]], std::string("\xE2\x96\x81"));
        QCOMPARE(ids[1], tokenizer.unk_id());
        QCOMPARE(tokenizer.decode(ids), std::string("\uFFFD"));
    }

    void unigram_user_defined_symbols_are_matched_whole_and_longest_first() {
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture("unigram-user.model"));
        const auto& vocab = tokenizer.vocabulary();
        const auto id_of = [&](const std::string& piece) {
            return int32_t(std::find(vocab.pieces.begin(), vocab.pieces.end(), piece) - vocab.pieces.begin());
        };
        QCOMPARE(vocab.types[id_of("<sep>")], TokenType::UserDefined);
        QCOMPARE(tokenizer.encode("[MASK][MASK]<sep>", false), (std::vector<int32_t>{id_of("[MASK]"), id_of("[MASK]"), id_of("<sep>")}));
        QCOMPARE(tokenizer.encode("<sep><sep><sep>", false), (std::vector<int32_t>{id_of("<sep><sep>"), id_of("<sep>")}));
        QCOMPARE(tokenizer.decode(tokenizer.encode("Lily<sep>Tom", false)), std::string("Lily<sep>Tom"));
    }

    void unigram_normalizer_applies_the_precompiled_charsmap() {
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture("unigram-rules.model"));
        QVERIFY(!tokenizer.vocabulary().precompiled_charsmap.empty());
        // Fullwidth letters and the "fi" ligature are rewritten; "AAA" (a three-character rule) becomes "a".
        QCOMPARE(tokenizer.encode("\uFF21\uFF22 \uFF41\uFF42 \uFB01sh", false), tokenizer.encode("AB ab fish", false));
        QCOMPARE(tokenizer.encode("AAA", false), tokenizer.encode("a", false));
        // An invalid UTF-8 byte is read as U+FFFD, which is no piece here.
        QCOMPARE(tokenizer.encode("a\xFF", false), (std::vector<int32_t>{tokenizer.encode("a", false)[0], tokenizer.unk_id()}));
    }

    void unigram_encodes_wikitext_in_linear_time() {
        const std::string wiki = read_file(qbtest::data_path("text/wiki.test.raw"));
        const auto tokenizer = load_tokenizer_from_sentencepiece_model(unigram_fixture("unigram-bytes.model"));
        QElapsedTimer timer;
        timer.start();
        const auto ids = tokenizer.encode(wiki, true);
        const qint64 elapsed_ms = timer.elapsed();
        qInfo("wiki.test.raw: %zu unigram tokens in %lld ms", ids.size(), elapsed_ms);
        QVERIFY(ids.size() > wiki.size() / 4);
        QVERIFY2(elapsed_ms < 3000, "unigram tokenization has become super-linear");
    }

    void gguf_export_keeps_a_unigram_vocabulary_unigram() {
        // stories260K's HF folder, as if its tokenizer.model were the unigram test model with a charsmap.
        Model model = load_model(qbtest::stories260k("hf"));
        model.tokenizer = {TokenizerSource::Kind::SentencePieceModel, unigram_fixture("unigram-rules.model")};
        ExportPlan plan;
        plan.output = qbtest::scratch_dir() / "unigram-export.gguf";
        write_gguf(plan.output, gguf_export_metadata(model, plan, {}), {});
        const auto exported = load_tokenizer_from_gguf(plan.output);
        QCOMPARE(exported.algorithm(), TokenizerAlgorithm::Unigram);
        expect_unigram_fixture(exported, "unigram-rules.model");
    }

    void rejects_a_truncated_unigram_model_naming_the_file() {
        const std::string bytes = read_file(unigram_fixture("unigram-plain.model"));
        const auto path = qbtest::scratch_dir() / "truncated-unigram.model";
        write_file(path, bytes.substr(0, bytes.size() - 7));
        const QString message = error_of([&] { load_tokenizer_from_sentencepiece_model(path); });
        QVERIFY2(message.startsWith(QString::fromStdString(path.string()) + ": "), qPrintable(message));
        QVERIFY2(message.contains("truncated"), qPrintable(message));
    }

    void rejects_sentencepiece_word_models_naming_the_type() {
        // ModelProto { pieces { piece: "a" } trainer_spec { model_type: WORD } }
        const auto path = qbtest::scratch_dir() / "word.model";
        write_file(path, std::string("\x0a\x03\x0a\x01" "a" "\x12\x02\x18\x03", 9));
        const QString message = error_of([&] { load_tokenizer_from_sentencepiece_model(path); });
        QVERIFY2(message.contains("model type 'word' is not supported"), qPrintable(message));
    }

    void rejects_malformed_unigram_vocabularies_with_the_reason() {
        QCOMPARE(error_of([] { (void)Tokenizer(tiny_unigram(false)); }),
                 QString("tiny.model: unigram vocabulary has no unknown piece (<unk>)"));
        Vocabulary repeated = tiny_unigram(true);
        repeated.pieces[3] = "a";
        QCOMPARE(error_of([&] { (void)Tokenizer(std::move(repeated)); }), QString("tiny.model: unigram piece 3 'a' is defined twice"));
        Vocabulary empty_piece = tiny_unigram(true);
        empty_piece.pieces[2].clear();
        QCOMPARE(error_of([&] { (void)Tokenizer(std::move(empty_piece)); }), QString("tiny.model: unigram piece 2 is empty"));
        Vocabulary bad_charsmap = tiny_unigram(true);
        bad_charsmap.precompiled_charsmap = std::string("\x00\x01\x00\x00xyz", 7);
        const QString message = error_of([&] { (void)Tokenizer(std::move(bad_charsmap)); });
        QVERIFY2(message.startsWith("tiny.model: malformed SentencePiece precompiled_charsmap"), qPrintable(message));
        // A well-formed tiny vocabulary works: "▁a" + "b", and "c" is unknown.
        QCOMPARE(Tokenizer(tiny_unigram(true)).encode("abc", false), (std::vector<int32_t>{1, 3, 0}));
    }

    void rejects_a_truncated_tokenizer_model_naming_the_file() {
        const std::string bytes = read_file(stories_sentencepiece());
        const auto path = qbtest::scratch_dir() / "truncated.model";
        write_file(path, bytes.substr(0, bytes.size() / 2));
        const QString message = error_of([&] { load_tokenizer_from_sentencepiece_model(path); });
        QVERIFY2(message.contains(QString::fromStdString(path.string())), qPrintable(message));
        QVERIFY2(message.contains("truncated"), qPrintable(message));
    }

    void rejects_garbage_llama2c_tokenizer_naming_the_file() {
        const auto path = qbtest::scratch_dir() / "garbage.bin";
        std::string garbage(4096, '\0');
        for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = char((i * 2654435761u) >> 13);
        write_file(path, garbage);
        const QString message = error_of([&] { load_tokenizer_from_llama2c(path); });
        QVERIFY2(message.startsWith(QString::fromStdString(path.string()) + ": "), qPrintable(message));
        QVERIFY2(message.contains("not a llama2.c tokenizer") || message.contains("truncated"), qPrintable(message));
    }

    void rejects_gguf_without_tokenizer_keys() {
        const auto path = qbtest::data_path("vectors/quant-vectors.gguf");
        const QString message = error_of([&] { load_tokenizer_from_gguf(path); });
        QCOMPARE(message, QString::fromStdString(path.string()) + ": GGUF has no tokenizer (tokenizer.ggml.model is missing)");
    }

    void rejects_missing_files_naming_them() {
        const auto missing = qbtest::scratch_dir() / "no-such-tokenizer.model";
        for (auto kind : {TokenizerSource::Kind::GgufMetadata, TokenizerSource::Kind::SentencePieceModel,
                          TokenizerSource::Kind::TokenizerJson, TokenizerSource::Kind::Llama2cBin}) {
            const QString message = error_of([&] { load_tokenizer(TokenizerSource{kind, missing}); });
            QVERIFY2(message.startsWith(QString::fromStdString(missing.string()) + ": cannot open"), qPrintable(message));
        }
    }

    void rejects_decoding_an_id_outside_the_vocabulary() {
        const auto tokenizer = load_tokenizer_from_gguf(qbtest::stories260k("gguf"));
        const std::vector<int32_t> ids = {1, 512};
        QVERIFY(error_of([&] { tokenizer.decode(ids); }).contains("token id 512 is outside the vocabulary of 512"));
    }

    void rejects_tokenizer_json_ids_that_are_floats_or_beyond_its_tokens() {
        const auto dir = qbtest::scratch_dir() / "json-absurd-id";
        std::filesystem::create_directories(dir);
        const auto path = dir / "tokenizer.json";
        const std::string file = path.string();
        // Found by fuzz_tokenizer_json: a float id too large for int64 was converted anyway (undefined behaviour).
        write_file(path, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 19122222222222222222222222222222222}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}})");
        QCOMPARE(error_of([&] { load_tokenizer_from_json(path); }),
                 QString::fromStdString(file + ": token 'b' has id 1.912222222222222e+34, not an integer"));
        // An id is refused before the piece table is resized to it (16M ids took ~500 MB before).
        write_file(path, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 16000000}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}})");
        QCOMPARE(error_of([&] { load_tokenizer_from_json(path); }),
                 QString::fromStdString(file + ": token 'b' has id 16000000, outside the 2 tokens the file defines"));
        write_file(path, R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"},
                             "added_tokens": [{"id": 16000000, "content": "<x>"}]})");
        QCOMPARE(error_of([&] { load_tokenizer_from_json(path); }),
                 QString::fromStdString(file + ": added token has id 16000000, outside the 2 tokens the file defines"));
    }
};

QTEST_GUILESS_MAIN(TokenizersTest)
#include "tst_tokenizers.moc"
