#include <QtTest>

#include <map>

#include "core/io/gguf_reader.h"
#include "core/model/architecture.h"
#include "core/model/model.h"
#include "core/plan/plan_export.h"
#include "core/plan/presets.h"
#include "core/plan/resolved_plan.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

struct Shape {
    std::string architecture = "llama";
    int64_t layers = 32, embd = 4096, ff = 11008, heads = 32, heads_kv = 32, vocab = 32000, ctx = 4096;
};

int64_t size_of(Dim d, const Shape& s) {
    const int64_t head_dim = s.embd / s.heads;
    switch (d) {
        case Dim::Vocab: return s.vocab;
        case Dim::Embd: return s.embd;
        case Dim::Ff: return s.ff;
        case Dim::Ctx: return s.ctx;
        case Dim::QRows: return s.heads * head_dim;
        case Dim::KvRows: return s.heads_kv * head_dim;
        case Dim::QkvRows: return (s.heads + 2 * s.heads_kv) * head_dim;
    }
    return 0;
}

// A model of that architecture and shape with f16 matrices and f32 vectors, holding no data: plans
// only look at names and shapes.
Model shaped_model(const Shape& s) {
    const Architecture& arch = architecture_by_name(s.architecture);
    Model m;
    m.architecture = s.architecture;
    m.hparams.n_vocab = s.vocab;
    m.hparams.n_embd = s.embd;
    m.hparams.n_layer = s.layers;
    m.hparams.n_head = s.heads;
    m.hparams.n_head_kv = s.heads_kv;
    m.hparams.head_dim = s.embd / s.heads;
    m.hparams.n_ff = s.ff;
    m.hparams.n_ctx = s.ctx;
    auto add = [&](const TensorRule& rule, int layer) {
        TensorView t;
        t.name = rule.canonical;
        if (layer >= 0) t.name.replace(t.name.find("{N}"), 3, std::to_string(layer));
        for (Dim d : rule.shape) t.shape.push_back(size_of(d, s));
        t.format = &format_by_name(t.shape.size() == 1 ? "f32" : "f16");
        m.tensors.push_back(std::move(t));
    };
    auto in_block = [](const TensorRule& r) { return r.canonical.find("{N}") != std::string::npos; };
    const auto first_block = std::find_if(arch.tensors.begin(), arch.tensors.end(), in_block);
    for (auto it = arch.tensors.begin(); it != first_block; ++it) add(*it, -1);
    for (int layer = 0; layer < s.layers; ++layer)
        for (const auto& rule : arch.tensors)
            if (in_block(rule)) add(rule, layer);
    for (auto it = first_block; it != arch.tensors.end(); ++it)
        if (!in_block(*it)) add(*it, -1);
    return m;
}

std::map<std::string, int> type_counts(const ResolvedPlan& r) {
    std::map<std::string, int> counts;
    for (const auto& t : r.tensors) ++counts[t.format->name];
    return counts;
}

std::string format_of(const ResolvedPlan& r, const std::string& name) { return r.find(name)->format->name; }

ResolvedPlan preset_for(const std::string& preset, const Model& model) {
    return resolve_plan(preset_plan(preset, model), model, PlanTarget::Gguf);
}

std::string llamacpp_file(const std::string& preset) {
    return qbtest::data_path("models/stories260K/gguf-llamacpp/stories260K-" + preset + ".gguf").string();
}

}  // namespace

class PresetsTest : public QObject {
    Q_OBJECT
private slots:
    void reproduces_llama_cpp_types_of_stories260k_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("form");
        for (const char* preset : {"Q6_K", "Q4_K_M", "Q2_K"})
            for (const char* form : {"gguf", "hf", "llama2c"})
                QTest::newRow((std::string(preset) + " from " + form).c_str()) << QString(preset) << QString(form);
    }

    void reproduces_llama_cpp_types_of_stories260k() {
        QFETCH(QString, preset);
        QFETCH(QString, form);
        const GgufFile reference(llamacpp_file(preset.toStdString()));
        const Model model = load_model(qbtest::stories260k(form.toStdString()));
        const ResolvedPlan r = preset_for(preset.toLower().toStdString(), model);

        QCOMPARE(r.tensors.size(), reference.tensors().size());
        uint64_t reference_bytes = 0;
        for (const auto& t : reference.tensors()) {
            const std::string canonical = t.name.substr(0, t.name.size() - std::string(".weight").size());
            const TensorAssignment* planned = r.find(canonical);
            QVERIFY2(planned, t.name.c_str());
            QVERIFY2(planned->format->ggml_type == t.ggml_type,
                     (t.name + ": planned " + planned->format->name + ", llama.cpp " + std::string(t.type_name())).c_str());
            QCOMPARE(planned->bytes, t.n_bytes);
            reference_bytes += t.n_bytes;
        }
        QCOMPARE(r.total_bytes(), reference_bytes);
        QCOMPARE(int64_t(preset_by_name(preset.toStdString()).llama_file_type),
                 reference.get("general.file_type").as_int());

        // Quantbench's export adds its provenance keys (version, source, plan summary) to the same layout.
        const uint64_t exported = gguf_file_size(r, model).file_bytes;
        const uint64_t file_size = std::filesystem::file_size(llamacpp_file(preset.toStdString()));
        qInfo("export writes %llu bytes, llama.cpp's file has %llu", (unsigned long long)exported,
              (unsigned long long)file_size);
        QVERIFY(exported >= file_size && exported <= file_size + 256);
    }

    void stories260k_q4_k_m_is_an_editable_plan_of_three_rules() {
        const Model model = load_model(qbtest::stories260k("hf"));
        const QuantPlan plan = preset_plan("Q4_K_M", model);
        QCOMPARE(plan.name, std::string("q4_k_m"));
        QVERIFY(plan.fallback);
        QCOMPARE(plan.defaults.format, std::string("q4_k"));
        QCOMPARE(plan.rules.size(), size_t(3));
        QCOMPARE(plan.rules[0].match, std::string("^blk\\.(2|4)\\.attn_v$"));
        QCOMPARE(*plan.rules[0].choice.format, std::string("q6_k"));
        QCOMPARE(plan.rules[1].match, std::string("^blk\\.(2|4)\\.ffn_down$"));
        QCOMPARE(plan.rules[2].match, std::string("^output$"));
        QCOMPARE(*plan.rules[2].choice.format, std::string("q8_0"));
        QCOMPARE(plan.rules[2].note, std::string("output: rows do not fit the default type"));
        QCOMPARE(plan_from_json(plan_to_json(plan)), plan);
    }

    void llama_2_7b_mixes_match_llama_cpp_type_counts_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("counts");
        // llama-quantize's per-type tensor counts for Llama-2-7B (226 matrices, 65 f32 vectors).
        QTest::newRow("q8_0") << "q8_0" << "f32 65, q8_0 226";
        QTest::newRow("q6_k") << "q6_k" << "f32 65, q6_k 226";
        QTest::newRow("q5_k_m") << "q5_k_m" << "f32 65, q5_k 193, q6_k 33";
        QTest::newRow("q5_k_s") << "q5_k_s" << "f32 65, q5_k 225, q6_k 1";
        QTest::newRow("q4_k_m") << "q4_k_m" << "f32 65, q4_k 193, q6_k 33";
        QTest::newRow("q4_k_s") << "q4_k_s" << "f32 65, q4_k 217, q5_k 8, q6_k 1";
        QTest::newRow("q3_k_l") << "q3_k_l" << "f32 65, q3_k 129, q5_k 96, q6_k 1";
        QTest::newRow("q3_k_m") << "q3_k_m" << "f32 65, q3_k 129, q4_k 92, q5_k 4, q6_k 1";
        QTest::newRow("q3_k_s") << "q3_k_s" << "f32 65, q3_k 225, q6_k 1";
        QTest::newRow("q2_k") << "q2_k" << "f32 65, q2_k 129, q3_k 96, q6_k 1";
        QTest::newRow("q4_0") << "q4_0" << "f32 65, q4_0 225, q6_k 1";
        QTest::newRow("q5_0") << "q5_0" << "f32 65, q5_0 225, q6_k 1";
        QTest::newRow("iq4_nl") << "iq4_nl" << "f32 65, iq4_nl 221, q5_k 4, q6_k 1";
    }

    void llama_2_7b_mixes_match_llama_cpp_type_counts() {
        QFETCH(QString, preset);
        QFETCH(QString, counts);
        const ResolvedPlan r = preset_for(preset.toStdString(), shaped_model({}));
        std::string text;
        for (const auto& [format, n] : type_counts(r)) text += (text.empty() ? "" : ", ") + format + " " + std::to_string(n);
        QCOMPARE(QString::fromStdString(text), counts);
        QCOMPARE(r.fallback_count(), size_t(0));
    }

    void q4_k_m_widens_the_use_more_bits_layers() {
        const ResolvedPlan r = preset_for("q4_k_m", shaped_model({}));
        std::vector<int> wide;
        for (int layer = 0; layer < 32; ++layer) {
            const std::string v = format_of(r, "blk." + std::to_string(layer) + ".attn_v");
            QCOMPARE(format_of(r, "blk." + std::to_string(layer) + ".ffn_down"), v);
            if (v == "q6_k") wide.push_back(layer);
        }
        QCOMPARE(wide, (std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
        QCOMPARE(format_of(r, "output"), std::string("q6_k"));
        QCOMPARE(format_of(r, "token_embd"), std::string("q4_k"));
    }

    void grouped_query_attention_and_70b_models_get_wider_attention_values() {
        const Model llama3_8b = shaped_model({.ff = 14336, .heads_kv = 8, .vocab = 128256});
        QCOMPARE(format_of(preset_for("q2_k", llama3_8b), "blk.7.attn_v"), std::string("q4_k"));
        QCOMPARE(format_of(preset_for("iq4_nl", llama3_8b), "blk.7.attn_v"), std::string("q5_k"));
        QCOMPARE(format_of(preset_for("q4_k_m", llama3_8b), "blk.7.attn_v"), std::string("q4_k"));

        const Model llama_70b = shaped_model({.layers = 80, .embd = 8192, .ff = 28672, .heads = 64, .heads_kv = 8});
        const ResolvedPlan q4_k_m = preset_for("q4_k_m", llama_70b);
        QCOMPARE(format_of(q4_k_m, "blk.12.attn_v"), std::string("q6_k"));  // use_more_bits: (12 - 80/8) % 3 == 2
        QCOMPARE(format_of(q4_k_m, "blk.11.attn_v"), std::string("q5_k"));  // q4_k, widened for a 70B model
        QCOMPARE(format_of(q4_k_m, "blk.11.attn_q"), std::string("q4_k"));
        QCOMPARE(format_of(preset_for("q3_k_s", llama_70b), "blk.40.attn_v"), std::string("q5_k"));
        QCOMPARE(format_of(preset_for("q2_k", llama_70b), "blk.40.attn_v"), std::string("q5_k"));
        QCOMPARE(format_of(preset_for("q4_0", llama_70b), "blk.40.attn_v"), std::string("q4_0"));
    }

    void fused_qkv_models_get_the_qkv_upgrades_and_keep_position_embeddings() {
        const Model gpt2 = shaped_model(
            {.architecture = "gpt2", .layers = 12, .embd = 768, .ff = 3072, .heads = 12, .heads_kv = 12, .vocab = 50257, .ctx = 1024});
        const ResolvedPlan r = preset_for("q4_k_m", gpt2);
        QCOMPARE(format_of(r, "blk.5.attn_qkv"), std::string("q5_k"));
        QCOMPARE(format_of(r, "position_embd"), std::string("f16"));
        QCOMPARE(r.find("position_embd")->reason(), std::string("kept: position embeddings are not quantized (as llama.cpp)"));
        QCOMPARE(format_of(r, "blk.3.ffn_down"), std::string("q6_k"));
        QCOMPARE(format_of(r, "blk.4.ffn_down"), std::string("q4_k"));
        QCOMPARE(format_of(preset_for("q3_k_m", gpt2), "blk.5.attn_qkv"), std::string("q4_k"));
        QCOMPARE(format_of(preset_for("q5_k_m", gpt2), "blk.5.attn_qkv"), std::string("q6_k"));
    }

    void every_preset_gives_storable_types_for_every_architecture_and_awkward_shapes() {
        std::vector<Model> models;
        models.push_back(load_model(qbtest::stories260k("llama2c")));
        models.push_back(shaped_model({.architecture = "mistral", .layers = 4, .embd = 256, .ff = 688, .heads = 8, .heads_kv = 2, .vocab = 1000}));
        models.push_back(shaped_model({.architecture = "qwen2", .layers = 3, .embd = 96, .ff = 200, .heads = 4, .heads_kv = 1, .vocab = 300}));
        models.push_back(shaped_model({.architecture = "gpt-neox", .layers = 2, .embd = 128, .ff = 512, .heads = 4, .heads_kv = 4, .vocab = 500, .ctx = 128}));
        for (const auto& preset : presets())
            for (const auto& m : models)
                for (const auto& t : preset_for(std::string(preset.name), m).tensors)
                    QVERIFY2(target_storage_problem(*t.format, m.tensor(t.name), PlanTarget::Gguf).empty(),
                             (std::string(preset.name) + " " + m.architecture + " " + t.name).c_str());
    }

    void names_the_known_presets_for_an_unknown_one() {
        try {
            preset_by_name("q4_k_xl");
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()),
                     std::string("preset: unknown preset 'q4_k_xl' (known: q8_0, q6_k, q5_k_m, q5_k_s, q4_k_m, q4_k_s, "
                                 "q3_k_l, q3_k_m, q3_k_s, q2_k, q4_0, q5_0, iq4_nl)"));
        }
    }
};

QTEST_GUILESS_MAIN(PresetsTest)
#include "tst_presets.moc"
