#include <QtTest>

#include <cstring>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/io/llama2c_reader.h"
#include "core/io/safetensors_reader.h"
#include "core/io/safetensors_writer.h"
#include "core/model/architecture.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "core/util/half.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

std::vector<std::string> names_of(const Model& m) {
    std::vector<std::string> names;
    for (const auto& t : m.tensors) names.push_back(t.name);
    return names;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct FakeTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

// A Hugging Face folder with random f32 weights (fixed seed) and the given config.json.
class FakeHfModel {
public:
    explicit FakeHfModel(const std::string& folder) : dir_(qbtest::scratch_dir() / folder) {
        std::filesystem::create_directories(dir_);
    }
    void add(const std::string& name, std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::normal_distribution<float> normal(0.0f, 0.02f);
        std::vector<float> values(static_cast<size_t>(n));
        for (float& v : values) v = normal(rng_);
        tensors_.push_back({name, std::move(shape), std::move(values)});
    }
    const std::vector<float>& values(const std::string& name) const {
        for (const auto& t : tensors_)
            if (t.name == name) return t.values;
        throw std::runtime_error("no fake tensor " + name);
    }
    std::filesystem::path write(const nlohmann::json& config) const {
        std::vector<SafetensorsOutput> out;
        for (const auto& t : tensors_)
            out.push_back({t.name, "F32", t.shape,
                           {reinterpret_cast<const uint8_t*>(t.values.data()), t.values.size() * sizeof(float)}});
        write_safetensors(dir_ / "model.safetensors", out, {{"format", "pt"}});
        std::ofstream(dir_ / "config.json") << config.dump(2);
        return dir_;
    }

private:
    std::filesystem::path dir_;
    std::vector<FakeTensor> tensors_;
    std::mt19937 rng_{1234};
};

// Row r of a [rows, cols] matrix.
std::vector<float> row_of(const std::vector<float>& m, int64_t cols, int64_t r) {
    return {m.begin() + r * cols, m.begin() + (r + 1) * cols};
}

}  // namespace

class ModelLoadingTest : public QObject {
    Q_OBJECT
private slots:
    void stories260k_has_the_same_canonical_tensors_in_all_three_forms() {
        const Model gguf = load_model(qbtest::stories260k("gguf"));
        const Model hf = load_model(qbtest::stories260k("hf"));
        const Model l2c = load_model(qbtest::stories260k("llama2c"));
        QCOMPARE(gguf.tensors.size(), size_t(48));
        QCOMPARE(names_of(hf), names_of(gguf));
        QCOMPARE(names_of(l2c), names_of(gguf));
        QCOMPARE(gguf.tensors.front().name, std::string("token_embd"));
        QCOMPARE(gguf.tensors[1].name, std::string("blk.0.attn_norm"));
        QCOMPARE(gguf.tensors.back().name, std::string("output"));
        for (size_t i = 0; i < gguf.tensors.size(); ++i) {
            const TensorView& reference = gguf.tensors[i];
            for (const Model* other : {&hf, &l2c}) {
                const TensorView& t = other->tensors[i];
                QVERIFY2(t.shape == reference.shape, t.name.c_str());
                QVERIFY2(bit_identical(t.to_f32(), reference.to_f32()), (t.name + " from " + t.source_name).c_str());
            }
        }
    }

    void stories260k_hyper_parameters_match_the_model_card() {
        for (const char* form : {"gguf", "hf", "llama2c"}) {
            const Model m = load_model(qbtest::stories260k(form));
            const HyperParams& hp = m.hparams;
            QCOMPARE(m.architecture, std::string("llama"));
            QCOMPARE(hp.n_embd, 64);
            QCOMPARE(hp.n_layer, 5);
            QCOMPARE(hp.n_head, 8);
            QCOMPARE(hp.n_head_kv, 4);
            QCOMPARE(hp.head_dim, 8);
            QCOMPARE(hp.n_ff, 172);
            QCOMPARE(hp.n_vocab, 512);
            QCOMPARE(hp.n_ctx, 512);
            QCOMPARE(hp.rope_dims, 8);
            QCOMPARE(hp.norm_eps, 1e-5);
            QCOMPARE(hp.rope_theta, 1e4);
            QVERIFY2(hp.tied_embeddings, form);
            QCOMPARE(m.parameter_count(), int64_t(260032));
        }
    }

    void hf_q_and_k_rows_are_permuted_back_without_copying() {
        const Model hf = load_model(qbtest::stories260k("hf"));
        const TensorView& q = hf.tensor("blk.2.attn_q");
        QCOMPARE(q.source_name, std::string("model.layers.2.self_attn.q_proj.weight"));
        QCOMPARE(q.row_order.size(), size_t(64));
        // head 0: canonical rows 0,1,2,3 (pairs) come from HF rows 0,4,1,5
        QCOMPARE(std::vector<int32_t>(q.row_order.begin(), q.row_order.begin() + 4), (std::vector<int32_t>{0, 4, 1, 5}));
        QCOMPARE(hf.tensor("blk.2.attn_k").row_order.size(), size_t(32));
        QVERIFY(hf.tensor("blk.2.attn_v").row_order.empty());
    }

    void tied_output_is_a_view_of_the_embedding_bytes() {
        const Model hf = load_model(qbtest::stories260k("hf"));
        const TensorView& embd = hf.tensor("token_embd");
        const TensorView& output = hf.tensor("output");
        QCOMPARE(output.data.data(), embd.data.data());
        QCOMPARE(output.source_name, std::string("model.embed_tokens.weight"));
        QCOMPARE(hf.stored_bytes(), uint64_t(260032 * 4));
    }

    void f16_gguf_holds_the_f32_values_rounded_to_half() {
        const Model f32 = load_model(qbtest::stories260k("gguf"));
        const Model f16 = load_model(qbtest::data_path("models/stories260K/gguf/stories260K-f16.gguf"));
        QCOMPARE(names_of(f16), names_of(f32));
        int half_tensors = 0;
        for (size_t i = 0; i < f32.tensors.size(); ++i) {
            std::vector<float> expected = f32.tensors[i].to_f32();
            if (f16.tensors[i].format->name == "f16") {
                ++half_tensors;
                for (float& x : expected) x = fp16_to_fp32(fp32_to_fp16(x));
            }
            QVERIFY2(bit_identical(f16.tensors[i].to_f32(), expected), f16.tensors[i].name.c_str());
        }
        QCOMPARE(half_tensors, 37);
    }

    void tokenizer_source_is_found_for_each_form() {
        QCOMPARE(load_model(qbtest::stories260k("gguf")).tokenizer.kind, TokenizerSource::Kind::GgufMetadata);
        const Model hf = load_model(qbtest::stories260k("hf"));
        QCOMPARE(hf.tokenizer.kind, TokenizerSource::Kind::SentencePieceModel);
        QCOMPARE(hf.tokenizer.path.filename().string(), std::string("tokenizer.model"));
        const Model l2c = load_model(qbtest::stories260k("llama2c"));
        QCOMPARE(l2c.tokenizer.kind, TokenizerSource::Kind::Llama2cBin);
        QCOMPARE(l2c.tokenizer.path.filename().string(), std::string("tok512.bin"));
    }

    void sharded_safetensors_round_trip_equals_the_single_file() {
        const Model single = load_model(qbtest::stories260k("hf"));
        SafetensorsFile source(qbtest::data_path("models/stories260K/hf/model.safetensors"));
        const auto dir = qbtest::scratch_dir() / "stories-sharded";
        std::filesystem::create_directories(dir);
        std::vector<SafetensorsOutput> shard[2];
        std::map<std::string, std::string> weight_map;
        uint64_t total = 0;
        for (const auto& t : source.tensors()) {
            const int part = t.name.find("layers.3") != std::string::npos || t.name.find("layers.4") != std::string::npos ||
                                     t.name == "model.norm.weight" ? 1 : 0;
            shard[part].push_back({t.name, t.dtype, t.shape, t.data});
            weight_map[t.name] = "model-0000" + std::to_string(part + 1) + "-of-00002.safetensors";
            total += t.data.size();
        }
        write_safetensors(dir / "model-00001-of-00002.safetensors", shard[0]);
        write_safetensors(dir / "model-00002-of-00002.safetensors", shard[1]);
        write_safetensors_index(dir / "model.safetensors.index.json", weight_map, total);
        std::filesystem::copy_file(qbtest::data_path("models/stories260K/hf/config.json"), dir / "config.json");

        for (const auto& path : {dir, dir / "model.safetensors.index.json"}) {
            const Model sharded = load_model(path);
            QCOMPARE(names_of(sharded), names_of(single));
            QCOMPARE(sharded.metadata.at("format"), std::string("safetensors, 2 shards"));
            QCOMPARE(sharded.tensor("blk.4.ffn_down").source_file, (dir / "model-00002-of-00002.safetensors").string());
            for (size_t i = 0; i < single.tensors.size(); ++i) {
                QCOMPARE(sharded.tensors[i].shape, single.tensors[i].shape);
                QVERIFY2(bit_identical(sharded.tensors[i].to_f32(), single.tensors[i].to_f32()), single.tensors[i].name.c_str());
            }
            QVERIFY(sharded.hparams.tied_embeddings);
        }
    }

    void gpt2_conv1d_weights_read_back_transposed() {
        FakeHfModel fake("tiny-gpt2");
        const int64_t embd = 16, vocab = 50, ctx = 32, ff = 64;
        fake.add("transformer.wte.weight", {vocab, embd});
        fake.add("transformer.wpe.weight", {ctx, embd});
        for (int l = 0; l < 2; ++l) {
            const std::string p = "transformer.h." + std::to_string(l) + ".";
            fake.add(p + "ln_1.weight", {embd});
            fake.add(p + "ln_1.bias", {embd});
            fake.add(p + "attn.bias", {1, 1, ctx, ctx});  // the causal-mask buffer, not a weight
            fake.add(p + "attn.c_attn.weight", {embd, 3 * embd});
            fake.add(p + "attn.c_attn.bias", {3 * embd});
            fake.add(p + "attn.c_proj.weight", {embd, embd});
            fake.add(p + "attn.c_proj.bias", {embd});
            fake.add(p + "ln_2.weight", {embd});
            fake.add(p + "ln_2.bias", {embd});
            fake.add(p + "mlp.c_fc.weight", {embd, ff});
            fake.add(p + "mlp.c_fc.bias", {ff});
            fake.add(p + "mlp.c_proj.weight", {ff, embd});
            fake.add(p + "mlp.c_proj.bias", {embd});
        }
        fake.add("transformer.ln_f.weight", {embd});
        fake.add("transformer.ln_f.bias", {embd});
        const auto dir = fake.write({{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", vocab},
                                     {"n_embd", embd}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", ctx},
                                     {"n_inner", nullptr}, {"layer_norm_epsilon", 1e-5}});
        const Model m = load_model(dir);
        QCOMPARE(m.architecture, std::string("gpt2"));
        QCOMPARE(m.tensors.size(), size_t(2 + 2 * 12 + 2 + 1));
        QCOMPARE(m.tensors[0].name, std::string("token_embd"));
        QCOMPARE(m.tensors[1].name, std::string("position_embd"));
        QCOMPARE(m.tensors[2].name, std::string("blk.0.attn_norm"));
        QCOMPARE(m.tensors[3].name, std::string("blk.0.attn_norm.bias"));
        QCOMPARE(m.tensors[4].name, std::string("blk.0.attn_qkv"));
        QCOMPARE(m.tensors.back().name, std::string("output"));
        QCOMPARE(m.hparams.n_ff, ff);  // n_inner: null, taken from the c_fc shape
        QCOMPARE(m.hparams.n_ctx, ctx);
        QCOMPARE(m.hparams.rope_dims, 0);
        QVERIFY(m.hparams.tied_embeddings);

        const TensorView& qkv = m.tensor("blk.1.attn_qkv");
        QCOMPARE(qkv.shape, (std::vector<int64_t>{3 * embd, embd}));
        QVERIFY(qkv.stored_transposed);
        const std::vector<float>& stored = fake.values("transformer.h.1.attn.c_attn.weight");  // [in, out]
        const std::vector<float> canonical = qkv.to_f32();                                   // [out, in]
        for (int64_t out = 0; out < 3 * embd; ++out)
            for (int64_t in = 0; in < embd; ++in)
                QCOMPARE(canonical[size_t(out * embd + in)], stored[size_t(in * 3 * embd + out)]);
        QCOMPARE(m.tensor("blk.1.ffn_down").shape, (std::vector<int64_t>{embd, ff}));
        QCOMPARE(m.tensor("blk.1.attn_qkv.bias").to_f32(), fake.values("transformer.h.1.attn.c_attn.bias"));
    }

    void gpt_neox_fused_qkv_rows_are_regrouped_by_q_k_v() {
        FakeHfModel fake("tiny-neox");
        const int64_t embd = 16, heads = 2, hd = 8, vocab = 40, ff = 64;
        fake.add("gpt_neox.embed_in.weight", {vocab, embd});
        for (int l = 0; l < 2; ++l) {
            const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
            for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
                fake.add(p + norm + ".weight", {embd});
                fake.add(p + norm + ".bias", {embd});
            }
            fake.add(p + "attention.query_key_value.weight", {3 * embd, embd});
            fake.add(p + "attention.query_key_value.bias", {3 * embd});
            fake.add(p + "attention.rotary_emb.inv_freq", {hd / 2});
            fake.add(p + "attention.dense.weight", {embd, embd});
            fake.add(p + "attention.dense.bias", {embd});
            fake.add(p + "mlp.dense_h_to_4h.weight", {ff, embd});
            fake.add(p + "mlp.dense_h_to_4h.bias", {ff});
            fake.add(p + "mlp.dense_4h_to_h.weight", {embd, ff});
            fake.add(p + "mlp.dense_4h_to_h.bias", {embd});
        }
        fake.add("gpt_neox.final_layer_norm.weight", {embd});
        fake.add("gpt_neox.final_layer_norm.bias", {embd});
        fake.add("embed_out.weight", {vocab, embd});
        const auto dir = fake.write({{"model_type", "gpt_neox"}, {"architectures", {"GPTNeoXForCausalLM"}},
                                     {"vocab_size", vocab}, {"hidden_size", embd}, {"num_hidden_layers", 2},
                                     {"num_attention_heads", heads}, {"intermediate_size", ff},
                                     {"max_position_embeddings", 64}, {"rotary_pct", 0.25}, {"rotary_emb_base", 10000},
                                     {"layer_norm_eps", 1e-5}, {"use_parallel_residual", true},
                                     {"tie_word_embeddings", false}});
        const Model m = load_model(dir);
        QCOMPARE(m.architecture, std::string("gpt-neox"));
        QCOMPARE(m.hparams.rope_dims, 2);
        QVERIFY(m.hparams.parallel_residual);
        QVERIFY(!m.hparams.tied_embeddings);
        QCOMPARE(m.tensor("output").source_name, std::string("embed_out.weight"));
        const TensorView& qkv = m.tensor("blk.0.attn_qkv");
        const std::vector<float> canonical = qkv.to_f32();
        const std::vector<float>& hf = fake.values("gpt_neox.layers.0.attention.query_key_value.weight");
        const std::vector<float> canonical_bias = m.tensor("blk.0.attn_qkv.bias").to_f32();
        const std::vector<float>& hf_bias = fake.values("gpt_neox.layers.0.attention.query_key_value.bias");
        for (int64_t s = 0; s < 3; ++s)  // q, k, v
            for (int64_t h = 0; h < heads; ++h)
                for (int64_t i = 0; i < hd; ++i) {
                    const int64_t canonical_row = s * embd + h * hd + i, hf_row = (h * 3 + s) * hd + i;
                    QCOMPARE(row_of(canonical, embd, canonical_row), row_of(hf, embd, hf_row));
                    QCOMPARE(canonical_bias[size_t(canonical_row)], hf_bias[size_t(hf_row)]);
                }
        QCOMPARE(m.tensor("blk.0.attn_qkv.bias").source_name, std::string("gpt_neox.layers.0.attention.query_key_value.bias"));
    }

    void qwen2_keeps_rotate_half_rows_and_reads_qkv_biases() {
        FakeHfModel fake("tiny-qwen2");
        const int64_t embd = 16, kv_rows = 8, ff = 24, vocab = 30;
        fake.add("model.embed_tokens.weight", {vocab, embd});
        const std::string p = "model.layers.0.";
        fake.add(p + "input_layernorm.weight", {embd});
        fake.add(p + "self_attn.q_proj.weight", {embd, embd});
        fake.add(p + "self_attn.q_proj.bias", {embd});
        fake.add(p + "self_attn.k_proj.weight", {kv_rows, embd});
        fake.add(p + "self_attn.k_proj.bias", {kv_rows});
        fake.add(p + "self_attn.v_proj.weight", {kv_rows, embd});
        fake.add(p + "self_attn.v_proj.bias", {kv_rows});
        fake.add(p + "self_attn.o_proj.weight", {embd, embd});
        fake.add(p + "post_attention_layernorm.weight", {embd});
        fake.add(p + "mlp.gate_proj.weight", {ff, embd});
        fake.add(p + "mlp.up_proj.weight", {ff, embd});
        fake.add(p + "mlp.down_proj.weight", {embd, ff});
        fake.add("model.norm.weight", {embd});
        const auto dir = fake.write({{"model_type", "qwen2"}, {"architectures", {"Qwen2ForCausalLM"}}, {"vocab_size", vocab},
                                     {"hidden_size", embd}, {"num_hidden_layers", 1}, {"num_attention_heads", 4},
                                     {"num_key_value_heads", 2}, {"intermediate_size", ff},
                                     {"max_position_embeddings", 128}, {"rope_theta", 1000000.0},
                                     {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true}});
        const Model m = load_model(dir);
        QCOMPARE(m.architecture, std::string("qwen2"));
        QCOMPARE(m.hparams.n_head_kv, 2);
        QCOMPARE(m.hparams.head_dim, 4);
        QCOMPARE(m.hparams.rope_theta, 1e6);
        QCOMPARE(m.hparams.norm_eps, 1e-6);
        QVERIFY(m.hparams.tied_embeddings);
        QVERIFY(m.tensor("blk.0.attn_q").row_order.empty());
        QCOMPARE(m.tensor("blk.0.attn_q").to_f32(), fake.values(p + "self_attn.q_proj.weight"));
        QCOMPARE(m.tensor("blk.0.attn_k.bias").shape, (std::vector<int64_t>{kv_rows}));
        QCOMPARE(m.tensor("blk.0.attn_k.bias").to_f32(), fake.values(p + "self_attn.k_proj.bias"));
        QCOMPARE(names_of(m), (std::vector<std::string>{"token_embd", "blk.0.attn_norm", "blk.0.attn_q", "blk.0.attn_q.bias",
                                                        "blk.0.attn_k", "blk.0.attn_k.bias", "blk.0.attn_v", "blk.0.attn_v.bias",
                                                        "blk.0.attn_output", "blk.0.ffn_norm", "blk.0.ffn_gate",
                                                        "blk.0.ffn_up", "blk.0.ffn_down", "output_norm", "output"}));
    }

    void mistral_q_and_k_are_permuted_to_interleaved_pairs() {
        FakeHfModel fake("tiny-mistral");
        const int64_t embd = 16, heads = 4, kv_heads = 2, hd = 4, ff = 24, vocab = 30;
        fake.add("model.embed_tokens.weight", {vocab, embd});
        const std::string p = "model.layers.0.";
        fake.add(p + "input_layernorm.weight", {embd});
        fake.add(p + "self_attn.q_proj.weight", {heads * hd, embd});
        fake.add(p + "self_attn.k_proj.weight", {kv_heads * hd, embd});
        fake.add(p + "self_attn.v_proj.weight", {kv_heads * hd, embd});
        fake.add(p + "self_attn.o_proj.weight", {embd, heads * hd});
        fake.add(p + "post_attention_layernorm.weight", {embd});
        fake.add(p + "mlp.gate_proj.weight", {ff, embd});
        fake.add(p + "mlp.up_proj.weight", {ff, embd});
        fake.add(p + "mlp.down_proj.weight", {embd, ff});
        fake.add("model.norm.weight", {embd});
        fake.add("lm_head.weight", {vocab, embd});
        const auto dir = fake.write({{"model_type", "mistral"}, {"architectures", {"MistralForCausalLM"}},
                                     {"vocab_size", vocab}, {"hidden_size", embd}, {"num_hidden_layers", 1},
                                     {"num_attention_heads", heads}, {"num_key_value_heads", kv_heads},
                                     {"head_dim", hd}, {"intermediate_size", ff}, {"max_position_embeddings", 256},
                                     {"rope_theta", 1000000.0}, {"rms_norm_eps", 1e-5}, {"sliding_window", nullptr},
                                     {"tie_word_embeddings", false}});
        const Model m = load_model(dir);
        QCOMPARE(m.architecture, std::string("mistral"));
        QVERIFY(!m.hparams.tied_embeddings);
        for (const auto& [canonical, hf, n_heads] : {std::tuple("blk.0.attn_q", "self_attn.q_proj.weight", heads),
                                                      std::tuple("blk.0.attn_k", "self_attn.k_proj.weight", kv_heads)}) {
            const std::vector<float> values = m.tensor(canonical).to_f32();
            const std::vector<float>& stored = fake.values(p + hf);
            // canonical row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i (convert_hf_to_gguf.py's permute)
            for (int64_t h = 0; h < n_heads; ++h)
                for (int64_t i = 0; i < hd / 2; ++i)
                    for (int64_t j = 0; j < 2; ++j)
                        QCOMPARE(row_of(values, embd, h * hd + 2 * i + j), row_of(stored, embd, h * hd + j * hd / 2 + i));
        }
        QCOMPARE(m.tensor("output").to_f32(), fake.values("lm_head.weight"));
    }

    void llamacpp_mixed_type_files_load_with_their_tensor_types() {
        struct Expected {
            const char* file;
            std::map<std::string, int> types;
        };
        for (const Expected& e : {Expected{"stories260K-Q6_K.gguf", {{"q8_0", 32}, {"f16", 5}, {"f32", 11}}},
                                  Expected{"stories260K-Q4_K_M.gguf", {{"q5_0", 29}, {"q8_0", 3}, {"f16", 5}, {"f32", 11}}},
                                  Expected{"stories260K-Q2_K.gguf", {{"iq4_nl", 31}, {"q8_0", 1}, {"f16", 5}, {"f32", 11}}}}) {
            const Model m = load_model(qbtest::data_path(std::string("models/stories260K/gguf-llamacpp/") + e.file));
            QCOMPARE(m.tensors.size(), size_t(48));
            std::map<std::string, int> types;
            for (const auto& t : m.tensors) {
                QVERIFY2(t.format, t.name.c_str());
                ++types[t.format->name];
            }
            QCOMPARE(types, e.types);
            QCOMPARE(m.hparams.n_ff, 172);
            QCOMPARE(m.hparams.n_head_kv, 4);
        }
    }

    void llamacpp_quantized_values_are_close_to_the_f32_weights() {
        // worst relative squared error per storage type (measured: f16 4e-8, q8_0 4e-5, q5_0 2.5e-3, iq4_nl 7e-3)
        const std::map<std::string, double> bound = {{"f32", 0.0}, {"f16", 1e-7}, {"q8_0", 1e-4}, {"q5_0", 5e-3}, {"iq4_nl", 1e-2}};
        const Model f32 = load_model(qbtest::stories260k("gguf"));
        for (const char* file : {"stories260K-Q6_K.gguf", "stories260K-Q4_K_M.gguf", "stories260K-Q2_K.gguf"}) {
            const Model q = load_model(qbtest::data_path(std::string("models/stories260K/gguf-llamacpp/") + file));
            QCOMPARE(names_of(q), names_of(f32));
            for (size_t i = 0; i < q.tensors.size(); ++i) {
                const TensorView& t = q.tensors[i];
                if (!t.format->decode_row) QSKIP(("no decoder for " + t.format->name + " yet").c_str());
                const std::vector<float> reference = f32.tensors[i].to_f32(), decoded = t.to_f32();
                double err = 0, energy = 0;
                for (size_t k = 0; k < decoded.size(); ++k) {
                    err += double(decoded[k] - reference[k]) * (decoded[k] - reference[k]);
                    energy += double(reference[k]) * reference[k];
                }
                QVERIFY2(err <= energy * bound.at(t.format->name),
                         (std::string(file) + " " + t.name + " " + t.format->name + " rel err " + std::to_string(err / energy)).c_str());
            }
        }
    }

    void llama2c_version1_checkpoint_loads_like_version0() {
        const Llama2cFile v0(qbtest::stories260k("llama2c"));
        const Llama2cConfig& c = v0.config();
        std::vector<uint8_t> bytes(256);
        const int32_t header[] = {0x616b3432, 1, int32_t(c.dim), int32_t(c.hidden_dim), int32_t(c.n_layers), int32_t(c.n_heads),
                                  int32_t(c.n_kv_heads), int32_t(c.vocab_size), int32_t(c.seq_len)};
        std::memcpy(bytes.data(), header, sizeof header);
        bytes[sizeof header] = 1;  // shared classifier
        auto append = [&](const std::string& name) {
            for (const auto& t : v0.tensors())
                if (t.name == name) bytes.insert(bytes.end(), t.data.begin(), t.data.end());
        };
        auto append_layers = [&](const std::string& suffix) {
            for (int l = 0; l < c.n_layers; ++l) append("layers." + std::to_string(l) + "." + suffix);
        };
        append_layers("attention_norm.weight");
        append_layers("ffn_norm.weight");
        append("norm.weight");
        append("tok_embeddings.weight");
        for (const char* w : {"attention.wq", "attention.wk", "attention.wv", "attention.wo", "feed_forward.w1",
                              "feed_forward.w2", "feed_forward.w3"})
            append_layers(std::string(w) + ".weight");
        const auto path = qbtest::scratch_dir() / "stories260K-v1.bin";
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));

        const Model reference = load_model(qbtest::stories260k("llama2c"));
        const Model v1 = load_model(path);
        QCOMPARE(v1.metadata.at("format"), std::string("llama2.c v1"));
        QCOMPARE(names_of(v1), names_of(reference));
        for (size_t i = 0; i < v1.tensors.size(); ++i)
            QVERIFY2(bit_identical(v1.tensors[i].to_f32(), reference.tensors[i].to_f32()), v1.tensors[i].name.c_str());
        QVERIFY(v1.hparams.tied_embeddings);
    }

    void llama2c_negative_vocab_means_an_untied_classifier_follows() {
        std::vector<uint8_t> bytes = [] {
            std::ifstream in(qbtest::stories260k("llama2c"), std::ios::binary);
            return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }();
        const int32_t negative_vocab = -512;
        std::memcpy(bytes.data() + 20, &negative_vocab, 4);
        std::vector<float> classifier(512 * 64);
        for (size_t i = 0; i < classifier.size(); ++i) classifier[i] = float(i) * 0.25f;
        const auto* raw = reinterpret_cast<const uint8_t*>(classifier.data());
        bytes.insert(bytes.end(), raw, raw + classifier.size() * sizeof(float));
        const auto path = qbtest::scratch_dir() / "untied.bin";
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));

        const Model m = load_model(path);
        QVERIFY(!m.hparams.tied_embeddings);
        QCOMPARE(m.hparams.n_vocab, 512);
        QCOMPARE(m.tensor("output").source_name, std::string("output.weight"));
        QCOMPARE(m.tensor("output").to_f32(), classifier);
        QCOMPARE(m.parameter_count(), int64_t(260032 + 512 * 64));
    }

    void canonical_names_tell_role_layer_and_bias() {
        QCOMPARE(tensor_role("blk.3.attn_q"), std::string("attn_q"));
        QCOMPARE(tensor_role("blk.12.attn_qkv.bias"), std::string("attn_qkv"));
        QCOMPARE(tensor_role("token_embd"), std::string("token_embd"));
        QCOMPARE(tensor_layer("blk.12.ffn_down"), 12);
        QCOMPARE(tensor_layer("output"), -1);
        QVERIFY(is_bias("blk.0.attn_norm.bias"));
        QVERIFY(!is_bias("blk.0.attn_norm"));
    }
};

QTEST_GUILESS_MAIN(ModelLoadingTest)
#include "tst_model_loading.moc"
