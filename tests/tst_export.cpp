#include <QtTest>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <numeric>
#include <random>

#include "core/export/export_plan.h"
#include "core/export/gguf_export.h"
#include "core/export/roundtrip.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/infer/tokenizer_loaders.h"
#include "core/io/gguf_reader.h"
#include "core/io/safetensors_reader.h"
#include "core/io/safetensors_writer.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "core/util/half.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;
namespace fs = std::filesystem;

namespace {

const fs::path kSharedF32 = qbtest::data_path("models/stories260K/gguf/stories260K-f32.gguf");

const Model& stories(const std::string& form) {
    static std::map<std::string, Model> cache;
    auto it = cache.find(form);
    if (it == cache.end()) it = cache.emplace(form, load_model(qbtest::stories260k(form))).first;
    return it->second;
}

using Chooser = std::function<const FormatInfo*(const TensorView&)>;

const FormatInfo* keep(const TensorView&) { return nullptr; }

// Every tensor of the model (a tied output only in GGUF), with the chosen format.
ExportPlan plan_for(const Model& model, ExportTarget target, const fs::path& output, const Chooser& choose = keep) {
    ExportPlan plan;
    plan.target = target;
    plan.output = output;
    for (const auto& t : model.tensors)
        if (target == ExportTarget::Gguf || t.name != "output" || !model.hparams.tied_embeddings)
            plan.tensors.push_back({t.name, choose(t), {}, {}});
    return plan;
}

// q8_0 for matrices, f32 for norms; ffn_down (rows of 172) gets `fallback` when given.
Chooser q8_0_matrices(const FormatInfo* fallback) {
    return [fallback](const TensorView& t) {
        if (t.shape.size() == 1) return &format_by_name("f32");
        return t.cols() % 32 != 0 && fallback ? fallback : &format_by_name("q8_0");
    };
}

std::vector<uint8_t> file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

nlohmann::json json_file(const fs::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

std::vector<std::string> entries_beside(const fs::path& target) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(target.parent_path()))
        if (entry.path().filename().string().starts_with(target.filename().string()))
            found.push_back(entry.path().filename().string());
    return found;
}

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = qbtest::scratch_dir() / name;
    fs::create_directories(dir);
    return dir;
}

bool same_value(const GgufValue& a, const GgufValue& b) {
    return a.type == b.type && (!a.is_array() || a.elem_type == b.elem_type) && a.value == b.value;
}

// Keys of a and b compared one by one, quantbench.* excluded; returns the keys compared.
size_t compare_metadata(const GgufFile& written, const GgufFile& reference) {
    size_t compared = 0;
    for (const auto& key : written.metadata_keys()) {
        if (key.starts_with("quantbench.")) continue;
        const GgufValue* expected = reference.find(key);
        if (!expected) throw Error(key, "not in the reference file");
        if (!same_value(written.get(key), *expected)) throw Error(key, "differs from the reference file");
        ++compared;
    }
    return compared;
}

void compare_tensors(const GgufFile& written, const GgufFile& reference) {
    QCOMPARE(written.tensors().size(), reference.tensors().size());
    for (const auto& t : reference.tensors()) {
        const GgufTensorInfo& w = written.tensor(t.name);
        QCOMPARE(w.ggml_type, t.ggml_type);
        QCOMPARE(w.dims, t.dims);
        QVERIFY2(std::equal(w.data.begin(), w.data.end(), t.data.begin(), t.data.end()), t.name.c_str());
    }
}

double perplexity_ctx128(const Model& model) {
    EvalOptions options;
    options.ctx = 128;
    return evaluate_perplexity(Transformer(model), evaluation_text(model_tokenizer(model), qbtest::tinystories_snippet()),
                               options).ppl;
}

// ---- an independent GPTQ v1 decoder, bit by bit ----

template <typename T>
std::vector<T> tensor_values(const SafetensorsFile& file, const std::string& name) {
    const SafetensorsTensor* t = file.find_tensor(name);
    if (!t) throw Error(file.name(), "no tensor " + name);
    std::vector<T> v(t->data.size() / sizeof(T));
    std::memcpy(v.data(), t->data.data(), t->data.size());
    return v;
}

// Bit `position` of the stream whose k-th word is words[first + k * stride].
uint32_t stream_bit(const std::vector<int32_t>& words, size_t first, size_t stride, int64_t position) {
    return (uint32_t(words[first + size_t(position / 32) * stride]) >> (position % 32)) & 1u;
}

uint32_t stream_value(const std::vector<int32_t>& words, size_t first, size_t stride, int64_t index, int bits) {
    uint32_t v = 0;
    for (int b = 0; b < bits; ++b) v |= stream_bit(words, first, stride, index * bits + b) << b;
    return v;
}

// W[o][i] in Hugging Face order, [out, in].
std::vector<float> decode_gptq(const SafetensorsFile& file, const std::string& module, int bits, int64_t out) {
    const auto qweight = tensor_values<int32_t>(file, module + ".qweight");
    const auto qzeros = tensor_values<int32_t>(file, module + ".qzeros");
    const auto scales = tensor_values<uint16_t>(file, module + ".scales");
    const auto g_idx = tensor_values<int32_t>(file, module + ".g_idx");
    const int64_t in = int64_t(g_idx.size()), zero_words = out * bits / 32;
    std::vector<float> w(size_t(out * in));
    for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
            const int64_t g = g_idx[size_t(i)];
            const int code = int(stream_value(qweight, size_t(o), size_t(out), i, bits));
            const int zero = int(stream_value(qzeros, size_t(g * zero_words), 1, o, bits)) + 1;
            w[size_t(o * in + i)] = fp16_to_fp32(scales[size_t(g * out + o)]) * float(code - zero);
        }
    return w;
}

// The source folder's raw tensor (Hugging Face order) quantized and decoded by the registry, row by row;
// with act_order the columns are quantized in that order and put back.
std::vector<float> registry_reference(const std::string& hf_name, const FormatInfo& format,
                                      const std::vector<int32_t>& act_order) {
    const SafetensorsFile source(qbtest::stories260k("hf") / "model.safetensors");
    const SafetensorsTensor* t = source.find_tensor(hf_name);
    const int64_t rows = t->shape[0], cols = t->shape[1];
    std::vector<float> w = decode_tensor(*t->format, t->data, rows, cols), permuted = w;
    for (int64_t r = 0; r < rows && !act_order.empty(); ++r)
        for (int64_t j = 0; j < cols; ++j) permuted[size_t(r * cols + j)] = w[size_t(r * cols + act_order[size_t(j)])];
    const std::vector<float> decoded = decode_tensor(format, encode_tensor(format, permuted, rows, cols), rows, cols);
    std::vector<float> out = decoded;
    for (int64_t r = 0; r < rows && !act_order.empty(); ++r)
        for (int64_t j = 0; j < cols; ++j) out[size_t(r * cols + act_order[size_t(j)])] = decoded[size_t(r * cols + j)];
    return out;
}

// A Hugging Face folder with random f32 tensors (fixed seed) and the given config.json.
fs::path write_hf_folder(const std::string& name, const nlohmann::json& config,
                         const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
    const fs::path dir = fresh_dir(name);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<std::vector<float>> values;
    std::vector<SafetensorsOutput> outputs;
    for (const auto& [tensor, shape] : tensors) {
        auto& v = values.emplace_back(size_t(std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>())));
        for (float& x : v) x = normal(rng);
        outputs.push_back({tensor, "F32", shape, {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)}});
    }
    write_safetensors(dir / "model.safetensors", outputs);
    std::ofstream(dir / "config.json") << config.dump(2);
    return dir;
}

fs::path tiny_gpt2(const std::string& name = "tiny-gpt2", int64_t vocab = 50) {
    const int64_t embd = 16, ff = 64, ctx = 32;
    std::vector<std::pair<std::string, std::vector<int64_t>>> t = {{"transformer.wte.weight", {vocab, embd}},
                                                                   {"transformer.wpe.weight", {ctx, embd}}};
    for (const std::string p : {"transformer.h.0.", "transformer.h.1."}) {
        for (const char* norm : {"ln_1", "ln_2"}) {
            t.push_back({p + norm + ".weight", {embd}});
            t.push_back({p + norm + ".bias", {embd}});
        }
        t.push_back({p + "attn.bias", {1, 1, ctx, ctx}});  // causal-mask buffer: not exported
        t.push_back({p + "attn.c_attn.weight", {embd, 3 * embd}});
        t.push_back({p + "attn.c_attn.bias", {3 * embd}});
        t.push_back({p + "attn.c_proj.weight", {embd, embd}});
        t.push_back({p + "attn.c_proj.bias", {embd}});
        t.push_back({p + "mlp.c_fc.weight", {embd, ff}});
        t.push_back({p + "mlp.c_fc.bias", {ff}});
        t.push_back({p + "mlp.c_proj.weight", {ff, embd}});
        t.push_back({p + "mlp.c_proj.bias", {embd}});
    }
    t.push_back({"transformer.ln_f.weight", {embd}});
    t.push_back({"transformer.ln_f.bias", {embd}});
    return write_hf_folder(name, {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", vocab},
                                         {"n_embd", embd}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", ctx},
                                         {"n_inner", nullptr}, {"layer_norm_epsilon", 1e-5}},
                           t);
}

fs::path tiny_neox() {
    const int64_t embd = 16, ff = 64, vocab = 40;
    std::vector<std::pair<std::string, std::vector<int64_t>>> t = {{"gpt_neox.embed_in.weight", {vocab, embd}}};
    for (const std::string p : {"gpt_neox.layers.0.", "gpt_neox.layers.1."}) {
        for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
            t.push_back({p + norm + ".weight", {embd}});
            t.push_back({p + norm + ".bias", {embd}});
        }
        t.push_back({p + "attention.query_key_value.weight", {3 * embd, embd}});
        t.push_back({p + "attention.query_key_value.bias", {3 * embd}});
        t.push_back({p + "attention.rotary_emb.inv_freq", {4}});  // buffer: not exported
        t.push_back({p + "attention.dense.weight", {embd, embd}});
        t.push_back({p + "attention.dense.bias", {embd}});
        t.push_back({p + "mlp.dense_h_to_4h.weight", {ff, embd}});
        t.push_back({p + "mlp.dense_h_to_4h.bias", {ff}});
        t.push_back({p + "mlp.dense_4h_to_h.weight", {embd, ff}});
        t.push_back({p + "mlp.dense_4h_to_h.bias", {embd}});
    }
    t.push_back({"gpt_neox.final_layer_norm.weight", {embd}});
    t.push_back({"gpt_neox.final_layer_norm.bias", {embd}});
    t.push_back({"embed_out.weight", {vocab, embd}});
    return write_hf_folder("tiny-neox", {{"model_type", "gpt_neox"}, {"architectures", {"GPTNeoXForCausalLM"}},
                                         {"vocab_size", vocab}, {"hidden_size", embd}, {"num_hidden_layers", 2},
                                         {"num_attention_heads", 2}, {"intermediate_size", ff},
                                         {"max_position_embeddings", 64}, {"rotary_pct", 0.25}, {"rotary_emb_base", 10000},
                                         {"layer_norm_eps", 1e-5}, {"use_parallel_residual", true},
                                         {"tie_word_embeddings", false}},
                           t);
}

const fs::path kGpt2Vocab = qbtest::data_path("tokenizers/llamacpp-vocab/ggml-vocab-gpt-2.gguf");

// tokenizer.json + tokenizer_config.json holding llama.cpp's GPT-2 vocabulary (byte-level BPE).
void write_gpt2_tokenizer(const fs::path& folder) {
    const GgufFile vocab(kGpt2Vocab);
    const auto& pieces = vocab.get("tokenizer.ggml.tokens").as_strings();
    const auto types = vocab.get("tokenizer.ggml.token_type").as_ints();
    nlohmann::json ids = nlohmann::json::object(), added = nlohmann::json::array();
    for (size_t id = 0; id < pieces.size(); ++id) {
        ids[pieces[id]] = id;
        if (types[id] == int64_t(TokenType::Control)) added.push_back({{"id", id}, {"content", pieces[id]}, {"special", true}});
    }
    const nlohmann::json tokenizer = {
        {"model", {{"type", "BPE"}, {"vocab", ids}, {"merges", vocab.get("tokenizer.ggml.merges").as_strings()}}},
        {"added_tokens", added},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}};
    std::ofstream(folder / "tokenizer.json") << tokenizer.dump();
    std::ofstream(folder / "tokenizer_config.json")
        << nlohmann::json({{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"add_bos_token", false}}).dump();
}

std::vector<int32_t> stride_permutation(int64_t n) {
    std::vector<int32_t> p;
    for (int64_t j = 0; j < n; ++j) p.push_back(int32_t(j * 37 % n));
    return p;
}

}  // namespace

class ExportTest : public QObject {
    Q_OBJECT
private slots:
    void hf_export_to_gguf_f32_equals_the_shared_gguf_key_by_key_and_tensor_by_tensor() {
        const Model& hf = stories("hf");
        ExportPlan plan = plan_for(hf, ExportTarget::Gguf, qbtest::scratch_dir() / "hf-f32.gguf");
        plan.metadata["general.name"] = "stories260K";  // a Hugging Face folder does not state the name
        const uint64_t size = export_model(hf, plan);
        QCOMPARE(size, uint64_t(fs::file_size(plan.output)));
        QCOMPARE(expected_file_size(plan, hf), size);

        const GgufFile written(plan.output), shared(kSharedF32);
        QCOMPARE(compare_metadata(written, shared), size_t(22));
        QCOMPARE(written.metadata().size(), size_t(25));  // + quantbench.version, .source, .plan
        QCOMPARE(written.get("quantbench.plan").as_string(), std::string("f32 x48"));
        compare_tensors(written, shared);
        // Only the order of keys and of ffn_up/ffn_down differs, so the sizes agree up to the provenance keys.
        QCOMPARE(size - uint64_t(fs::file_size(kSharedF32)), uint64_t(128));
    }

    void llama2c_export_to_gguf_equals_the_shared_gguf_too() {
        const Model& llama2c = stories("llama2c");
        const ExportPlan plan = plan_for(llama2c, ExportTarget::Gguf, qbtest::scratch_dir() / "llama2c-f32.gguf");
        export_model(llama2c, plan);
        const GgufFile written(plan.output), shared(kSharedF32);
        QCOMPARE(written.get("general.name").as_string(), std::string("stories260K"));
        QCOMPARE(compare_metadata(written, shared), size_t(22));
        compare_tensors(written, shared);
    }

    void q8_0_export_without_fallback_names_blk0_ffn_down_and_the_reason() {
        const Model& gguf = stories("gguf");
        const ExportPlan plan = plan_for(gguf, ExportTarget::Gguf, qbtest::scratch_dir() / "q8.gguf", q8_0_matrices(nullptr));
        QCOMPARE(error_message([&] { export_model(gguf, plan); }),
                 plan.output.string() + ": tensor 'blk.0.ffn_down': row length 172 is not a multiple of q8_0's block of 32");
        QVERIFY(entries_beside(plan.output).empty());
    }

    void q8_0_export_with_f16_fallback_reloads_identically_with_identical_perplexity() {
        const Model& gguf = stories("gguf");
        const ExportPlan plan = plan_for(gguf, ExportTarget::Gguf, qbtest::scratch_dir() / "q8-f16.gguf",
                                         q8_0_matrices(&format_by_name("f16")));
        Model intended;
        const uint64_t size = export_model(gguf, plan, nullptr, &intended);
        QCOMPARE(size, expected_file_size(plan, gguf));
        QCOMPARE(uint64_t(fs::file_size(plan.output)), size);
        QCOMPARE(size, uint64_t(379232 + 160));  // llama.cpp's Q6_K file (same types) + our provenance keys

        const GgufFile written(plan.output), source(kSharedF32);
        QCOMPARE(written.get("general.file_type").as_int(), int64_t(7));  // LLAMA_FTYPE_MOSTLY_Q8_0
        QCOMPARE(written.get("general.quantization_version").as_int(), int64_t(2));
        QCOMPARE(written.get("quantbench.plan").as_string(), std::string("q8_0 x32, f32 x11, f16 x5"));
        std::vector<std::string> copied;
        for (const auto& key : written.metadata_keys())
            if (!key.starts_with("quantbench.") && key != "general.quantization_version") copied.push_back(key);
        QCOMPARE(copied, source.metadata_keys());  // the source's key/values, in its order
        QCOMPARE(written.tensor("blk.0.ffn_down.weight").type_name(), std::string_view("F16"));
        QCOMPARE(written.tensor("blk.0.ffn_up.weight").type_name(), std::string_view("Q8_0"));

        const RoundTripReport report = validate_roundtrip(intended, plan);
        QCOMPARE(report.tensors.size(), size_t(48));
        QVERIFY(std::all_of(report.tensors.begin(), report.tensors.end(), [](const auto& t) { return t.exact; }));
        QCOMPARE(report.max_logit_diff, 0.0);
        QCOMPARE(report.logit_tolerance, 0.0);

        const Model reloaded = load_model(plan.output);
        for (const auto& t : intended.tensors) QVERIFY2(reloaded.tensor(t.name).to_f32() == t.to_f32(), t.name.c_str());
        const double ppl = perplexity_ctx128(reloaded);
        QCOMPARE(ppl, perplexity_ctx128(intended));
        QVERIFY2(std::fabs(ppl / 5.6945 - 1) < 0.01, std::to_string(ppl).c_str());  // llama.cpp F32, ctx 128
    }

    void safetensors_f32_export_restores_the_hf_layout_byte_for_byte() {
        const Model& gguf = stories("gguf");
        ExportPlan plan = plan_for(gguf, ExportTarget::Safetensors, qbtest::scratch_dir() / "hf-f32");
        plan.dtype = "f32";
        Model intended;
        export_model(gguf, plan, nullptr, &intended);

        // Rotary q/k rows back in rotate-half order: every tensor equals the shared HF folder's raw bytes.
        const SafetensorsFile written(plan.output / "model.safetensors");
        const SafetensorsFile reference(qbtest::stories260k("hf") / "model.safetensors");
        QCOMPARE(written.tensors().size(), size_t(47));  // tied: no lm_head.weight
        for (const auto& t : reference.tensors()) {
            const SafetensorsTensor* w = written.find_tensor(t.name);
            QVERIFY2(w && w->dtype == "F32" && w->shape == t.shape, t.name.c_str());
            QVERIFY2(std::equal(w->data.begin(), w->data.end(), t.data.begin(), t.data.end()), t.name.c_str());
        }
        const nlohmann::json config = json_file(plan.output / "config.json");
        QCOMPARE(config["model_type"].get<std::string>(), std::string("llama"));
        QCOMPARE(config["num_key_value_heads"].get<int>(), 4);
        QCOMPARE(config["rms_norm_eps"].get<double>(), 1e-5);
        QCOMPARE(config["tie_word_embeddings"].get<bool>(), true);
        QCOMPARE(config["torch_dtype"].get<std::string>(), std::string("float32"));

        const RoundTripReport report = validate_roundtrip(intended, plan);
        QCOMPARE(report.tensors.size(), size_t(48));
        QCOMPARE(report.max_logit_diff, 0.0);
    }

    void safetensors_fake_quant_f16_reloads_within_f16_rounding() {
        const Model& hf = stories("hf");
        const FormatInfo& int4 = format_by_name("int4_g32_asym");
        ExportPlan plan = plan_for(hf, ExportTarget::Safetensors, qbtest::scratch_dir() / "fake-int4", [&](const TensorView& t) {
            return t.shape.size() == 2 && t.cols() % 32 == 0 ? &int4 : nullptr;
        });
        Model intended;
        export_model(hf, plan, nullptr, &intended);

        const RoundTripReport report = validate_roundtrip(intended, plan);  // bit-exact after f16 rounding
        double worst = 0;
        for (const auto& t : report.tensors) worst = std::max(worst, t.max_abs_diff);
        QVERIFY(worst > 0 && worst < 1e-3);
        QVERIFY(report.max_logit_diff > 0 && report.max_logit_diff <= report.logit_tolerance);

        const auto q = load_model(plan.output).tensor("blk.1.attn_q").to_f32();
        const auto expected = intended.tensor("blk.1.attn_q").to_f32();
        for (size_t i = 0; i < q.size(); ++i) QCOMPARE(q[i], fp16_to_fp32(fp32_to_fp16(expected[i])));

        const fs::path source = qbtest::stories260k("hf");
        for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"})
            QVERIFY2(file_bytes(plan.output / name) == file_bytes(source / name), name);
        const nlohmann::json config = json_file(plan.output / "config.json");
        QCOMPARE(config["torch_dtype"].get<std::string>(), std::string("float16"));
        QCOMPARE(config["transformers_version"].get<std::string>(), std::string("4.40.0"));  // copied from the source
    }

    void gptq_export_unpacks_with_an_independent_decoder_to_the_registry_values() {
        const Model& hf = stories("hf");
        const FormatInfo& int4 = format_by_name("int4_g32_asym");
        const FormatInfo& int3 = format_by_name("int3_g32_sym");
        const FormatInfo& int8 = format_by_name("int8_pc_asym");
        const auto act_order = stride_permutation(64);
        ExportPlan plan = plan_for(hf, ExportTarget::Gptq, qbtest::scratch_dir() / "gptq", [&](const TensorView& t) -> const FormatInfo* {
            if (t.name == "blk.1.attn_q") return &int3;
            if (t.name == "blk.0.attn_v") return &int8;
            const std::string role = tensor_role(t.name);
            const bool attention = role == "attn_q" || role == "attn_k" || role == "attn_v" || role == "attn_output";
            return attention ? &int4 : nullptr;
        });
        for (auto& entry : plan.tensors) {
            if (entry.name != "blk.2.attn_k") continue;
            entry.act_order = act_order;
            entry.produce = [&hf, &int4, &act_order] {
                const TensorView& k = hf.tensor("blk.2.attn_k");
                const std::vector<float> w = k.to_f32();
                std::vector<float> permuted(w.size());
                for (int64_t r = 0; r < k.rows(); ++r)
                    for (int64_t j = 0; j < k.cols(); ++j)
                        permuted[size_t(r * k.cols() + j)] = w[size_t(r * k.cols() + act_order[size_t(j)])];
                return encode_tensor(int4, permuted, k.rows(), k.cols());
            };
        }
        Model intended;
        export_model(hf, plan, nullptr, &intended);

        const nlohmann::json config = json_file(plan.output / "quantize_config.json");
        QCOMPARE(config["bits"].get<int>(), 4);
        QCOMPARE(config["group_size"].get<int>(), 32);
        QCOMPARE(config["sym"].get<bool>(), false);
        QCOMPARE(config["checkpoint_format"].get<std::string>(), std::string("gptq"));
        const auto& dynamic = config["dynamic"];
        QCOMPARE(dynamic["+:^model\\.layers\\.1\\.self_attn\\.q_proj$"],
                 nlohmann::json({{"bits", 3}, {"group_size", 32}, {"sym", true}}));
        QCOMPARE(dynamic["+:^model\\.layers\\.0\\.self_attn\\.v_proj$"], nlohmann::json({{"bits", 8}, {"group_size", -1}}));
        QCOMPARE(dynamic["+:^model\\.layers\\.2\\.self_attn\\.k_proj$"],
                 nlohmann::json({{"bits", 4}, {"group_size", 32}, {"desc_act", true}}));
        QCOMPARE(dynamic["-:^model\\.layers\\.4\\.mlp\\.down_proj$"], nlohmann::json::object());
        QCOMPARE(json_file(plan.output / "config.json")["quantization_config"], config);

        const SafetensorsFile written(plan.output / "model.safetensors");
        const std::string q1 = "model.layers.1.self_attn.q_proj";
        QCOMPARE(written.find_tensor(q1 + ".qweight")->shape, (std::vector<int64_t>{6, 64}));  // 64 inputs * 3 bits / 32
        QCOMPARE(written.find_tensor("model.layers.0.self_attn.v_proj.scales")->shape, (std::vector<int64_t>{1, 32}));
        QCOMPARE(written.find_tensor("model.layers.0.mlp.up_proj.weight")->dtype, std::string("F16"));
        QVERIFY(!written.find_tensor("model.layers.0.mlp.up_proj.qweight"));
        const std::vector<std::tuple<std::string, const FormatInfo*, int, std::vector<int32_t>>> modules = {
            {"model.layers.0.self_attn.q_proj", &int4, 64, {}},
            {"model.layers.0.self_attn.v_proj", &int8, 32, {}},
            {"model.layers.1.self_attn.q_proj", &int3, 64, {}},
            {"model.layers.2.self_attn.k_proj", &int4, 32, act_order},
            {"model.layers.4.self_attn.o_proj", &int4, 64, {}},
        };
        for (const auto& [module, format, out, order] : modules) {
            const std::vector<float> unpacked = decode_gptq(written, module, format->grid.bits, out);
            QVERIFY2(unpacked == registry_reference(module + ".weight", *format, order), module.c_str());
        }
        const auto g_idx = tensor_values<int32_t>(written, "model.layers.2.self_attn.k_proj.g_idx");
        QCOMPARE(g_idx[size_t(act_order[40])], 1);  // stored column 40 lies in the second group of 32

        const RoundTripReport report = validate_roundtrip(intended, plan);
        QCOMPARE(report.tensors.size(), size_t(48));
        QVERIFY(report.max_logit_diff <= report.logit_tolerance);
    }

    void gpt2_and_neox_layouts_round_trip_through_every_target() {
        for (const fs::path& folder : {tiny_gpt2(), tiny_neox()}) {
            const Model model = load_model(folder);
            const std::string out = folder.filename().string();
            // f32 safetensors: Conv1D weights transposed back, fused QKV rows and biases regrouped per head.
            ExportPlan plan = plan_for(model, ExportTarget::Safetensors, qbtest::scratch_dir() / (out + "-f32"));
            plan.dtype = "f32";
            Model intended;
            export_model(model, plan, nullptr, &intended);
            const SafetensorsFile source(folder / "model.safetensors"), written(plan.output / "model.safetensors");
            QCOMPARE(written.tensors().size(), source.tensors().size() - 2);  // without the two buffers
            for (const auto& t : written.tensors()) {
                const SafetensorsTensor* s = source.find_tensor(t.name);
                QVERIFY2(s && s->shape == t.shape, t.name.c_str());
                QVERIFY2(std::equal(t.data.begin(), t.data.end(), s->data.begin(), s->data.end()), t.name.c_str());
            }
            QCOMPARE(validate_roundtrip(intended, plan).max_logit_diff, 0.0);

            plan = plan_for(model, ExportTarget::Gguf, qbtest::scratch_dir() / (out + ".gguf"));
            export_model(model, plan, nullptr, &intended);
            QCOMPARE(validate_roundtrip(intended, plan).max_logit_diff, 0.0);

            const FormatInfo& int4 = format_by_name("int4_g16_sym");
            plan = plan_for(model, ExportTarget::Gptq, qbtest::scratch_dir() / (out + "-gptq"), [&](const TensorView& t) {
                return t.shape.size() == 2 && tensor_layer(t.name) >= 0 ? &int4 : nullptr;
            });
            export_model(model, plan, nullptr, &intended);
            const RoundTripReport report = validate_roundtrip(intended, plan);
            QVERIFY(report.max_logit_diff <= report.logit_tolerance);
        }
    }

    void gguf_export_of_a_bpe_model_carries_its_tokenizer() {
        const fs::path folder = tiny_gpt2("tiny-gpt2-bpe", 50257);
        write_gpt2_tokenizer(folder);
        const Model model = load_model(folder);
        const ExportPlan plan = plan_for(model, ExportTarget::Gguf, qbtest::scratch_dir() / "gpt2-bpe.gguf");
        export_model(model, plan);
        const GgufFile written(plan.output), reference(kGpt2Vocab);
        for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                                "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                "gpt2.attention.layer_norm_epsilon"})
            QVERIFY2(same_value(written.get(key), reference.get(key)), key);
        QCOMPARE(written.get("gpt2.context_length").as_int(), int64_t(32));
        QVERIFY(!written.find("gpt2.rope.dimension_count"));
        const std::string text = "Hello world! 3.14 naïve  spaces\n\ttabs <|endoftext|>";
        QCOMPARE(load_tokenizer_from_gguf(plan.output).encode(text, false), load_tokenizer_from_gguf(kGpt2Vocab).encode(text, false));
    }

    void gptq_names_what_it_cannot_pack() {
        const Model& hf = stories("hf");
        const FormatInfo& int4 = format_by_name("int4_g32_asym");
        QCOMPARE(storage_problem(ExportTarget::Gptq, hf.tensor("blk.0.ffn_up"), int4),
                 std::string("the output dimension 172 does not fill whole int32 words of 4-bit zero points (qzeros)"));
        QCOMPARE(storage_problem(ExportTarget::Gptq, hf.tensor("blk.0.ffn_down"), format_by_name("int4_pc_asym")),
                 std::string("the input dimension 172 does not fill whole int32 words of 4-bit values (qweight)"));
        QCOMPARE(storage_problem(ExportTarget::Gptq, hf.tensor("token_embd"), int4),
                 std::string("GPTQ packs only the linear layers of the blocks, not token_embd"));
        QCOMPARE(storage_problem(ExportTarget::Gptq, hf.tensor("blk.0.attn_q"), format_by_name("q8_0")),
                 std::string("q8_0 is not an integer grid (GPTQ stores linear layers as integer grids or unquantized)"));
        QCOMPARE(storage_problem(ExportTarget::Gptq, hf.tensor("blk.0.attn_q"), format_by_name("int5_g32_sym")),
                 std::string("GPTQ packs 2, 3, 4 or 8 bits, not int5_g32_sym"));
        QCOMPARE(storage_problem(ExportTarget::Gguf, hf.tensor("blk.0.attn_q"), int4),
                 std::string("int4_g32_asym has no GGUF tensor type"));
    }

    void refuses_to_overwrite_the_input_by_path_or_inode() {
        const fs::path copy = qbtest::scratch_copy(kSharedF32, "input.gguf");
        const fs::path link = qbtest::scratch_dir() / "input-link.gguf";
        fs::create_hard_link(copy, link);
        const Model model = load_model(copy);
        const auto before = file_bytes(copy);
        for (const fs::path& output : {copy, link}) {
            const ExportPlan plan = plan_for(model, ExportTarget::Gguf, output, q8_0_matrices(&format_by_name("f16")));
            QCOMPARE(error_message([&] { export_model(model, plan); }),
                     output.string() + ": the output would overwrite the input model " + copy.string());
        }
        QVERIFY(file_bytes(copy) == before);

        const Model& hf = stories("hf");
        const ExportPlan into_source = plan_for(hf, ExportTarget::Safetensors, qbtest::stories260k("hf"));
        QVERIFY(error_message([&] { export_model(hf, into_source); }).find("would overwrite the input model") != std::string::npos);
    }

    void a_failing_producer_leaves_no_file_and_its_error_propagates() {
        const Model& gguf = stories("gguf");
        for (ExportTarget target : {ExportTarget::Gguf, ExportTarget::Safetensors}) {
            ExportPlan plan = plan_for(gguf, target, qbtest::scratch_dir() / ("failing-" + std::string(export_target_name(target))));
            for (auto& entry : plan.tensors)
                if (entry.name == "blk.2.attn_q")
                    entry.produce = []() -> std::vector<uint8_t> { throw Error("quantizer", "GPTQ diverged"); };
            QCOMPARE(error_message([&] { export_model(gguf, plan); }), std::string("quantizer: GPTQ diverged"));
            QVERIFY(entries_beside(plan.output).empty());
        }
    }

    void cancellation_midway_leaves_no_file() {
        const Model& gguf = stories("gguf");
        ExportPlan plan = plan_for(gguf, ExportTarget::Gguf, qbtest::scratch_dir() / "cancelled.gguf");
        JobControl job;
        plan.tensors[10].produce = [&job, &gguf] {
            job.cancel();
            return canonical_bytes(gguf.tensor("blk.1.attn_norm"));
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, export_model(gguf, plan, &job));
        QVERIFY(entries_beside(plan.output).empty());
    }

    void rejects_incomplete_or_wrong_plans_naming_the_tensor() {
        const Model& gguf = stories("gguf");
        ExportPlan plan = plan_for(gguf, ExportTarget::Gguf, qbtest::scratch_dir() / "bad.gguf");
        plan.tensors.erase(plan.tensors.begin() + 3);
        QCOMPARE(error_message([&] { validate_export_plan(plan, gguf); }),
                 plan.output.string() + ": tensor 'blk.0.attn_k' is missing from the export plan");
        plan = plan_for(gguf, ExportTarget::Gguf, plan.output);
        plan.tensors[2].produce = [] { return std::vector<uint8_t>(3); };
        QCOMPARE(error_message([&] { export_model(gguf, plan); }),
                 plan.output.string() + ": tensor 'blk.0.attn_q': producer gave 3 bytes, f32 of its shape needs 16384");
        QVERIFY(entries_beside(plan.output).empty());

        const Model& hf = stories("hf");
        ExportPlan gptq = plan_for(hf, ExportTarget::Gptq, qbtest::scratch_dir() / "bad-gptq");
        gptq.tensors[2] = {"blk.0.attn_q", &format_by_name("int4_g32_sym"), {}, std::vector<int32_t>(64, 0)};
        QCOMPARE(error_message([&] { validate_export_plan(gptq, hf); }),
                 gptq.output.string() + ": tensor 'blk.0.attn_q': the act-order list is not a permutation of the 64 input columns");
    }

    void cli_exports_q8_0_with_fallback_and_validates() {
        const fs::path out = qbtest::scratch_dir() / "cli-q8.gguf";
        const auto r = qbtest::run_cli({"export", kSharedF32.string(), "--to", "gguf", "--out", out.string(), "--format",
                                        "q8_0", "--fallback", "f16", "--validate", "--json"});
        QVERIFY2(r.exit_code == 0, r.err.c_str());
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["bytes"].get<uint64_t>(), uint64_t(fs::file_size(out)));
        QCOMPARE(doc["tensors"].get<std::string>(), std::string("q8_0 x32, f32 x11, f16 x5"));
        QCOMPARE(doc["fallbacks"].size(), size_t(5));
        QCOMPARE(doc["fallbacks"][0]["tensor"].get<std::string>(), std::string("blk.0.ffn_down"));
        QCOMPARE(doc["validation"]["exact_tensors"].get<int>(), 48);
        QCOMPARE(doc["validation"]["max_logit_diff"].get<double>(), 0.0);
    }

    void cli_refuses_to_overwrite_its_input_and_reports_unstorable_tensors() {
        const fs::path input = qbtest::scratch_copy(kSharedF32, "cli-input.gguf");
        auto r = qbtest::run_cli({"export", input.string(), "--to", "gguf", "--out", input.string()});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, "quantbench-cli export: " + input.string() + ": the output would overwrite the input model " +
                            input.string() + "\n");
        const fs::path out = qbtest::scratch_dir() / "cli-q4.gguf";
        r = qbtest::run_cli({"export", input.string(), "--to", "gguf", "--out", out.string(), "--format", "q4_0"});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, "quantbench-cli export: " + out.string() +
                            ": tensor 'blk.0.ffn_down': row length 172 is not a multiple of q4_0's block of 32\n");
        QVERIFY(entries_beside(out).empty());
    }
};

QTEST_GUILESS_MAIN(ExportTest)
#include "tst_export.moc"
