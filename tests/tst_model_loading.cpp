#include <QtTest>

#include <cstring>

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
};

QTEST_GUILESS_MAIN(ModelLoadingTest)
#include "tst_model_loading.moc"
