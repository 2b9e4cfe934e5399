// Streamed weights: a model whose linear weights exceed the resident budget several times runs from its
// memory-mapped file, holding no decoded copy of them, and gives the logits of the resident path bit for bit.
#include <QtTest>

#include <vector>

#include "core/infer/forward.h"
#include "core/model/model.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

constexpr int64_t kBudget = int64_t(2) << 20;  // 2 MiB, below one layer of the model (2.9 MB)

// A llama in a Hugging Face folder (F16 safetensors, GQA, rotary q/k rows permuted on load): 4 layers of
// dim 256, ff 688, vocab 1000, 12.6 MB of linear weights in f32.
const Model& model() {
    static QTemporaryDir dir;
    static const Model m = [] {
        qbtest::SyntheticLlama spec;
        spec.vocab = 1000, spec.embd = 256, spec.ff = 688, spec.layers = 4, spec.heads = 4, spec.heads_kv = 2;
        spec.dtype = "F16";
        qbtest::write_synthetic_llama(dir.path().toStdString(), spec);
        return load_model(dir.path().toStdString());
    }();
    return m;
}

int64_t layer_f32_bytes() {
    int64_t values = 0;
    for (const TensorView& t : model().tensors)
        if (t.name.rfind("blk.0.", 0) == 0) values += t.numel();
    return values * int64_t(sizeof(float));
}

// Matrices multiplied by the forward pass: the classifier ("output", a view of the tied embeddings) and the
// layers' (token_embd itself is only read a row per token).
int64_t linear_f32_bytes() {
    int64_t values = 0;
    for (const TensorView& t : model().tensors)
        if (t.shape.size() == 2 && t.name != "token_embd") values += t.numel();
    return values * int64_t(sizeof(float));
}

std::vector<int32_t> tokens(int64_t n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) t[size_t(i)] = int32_t((i * 131 + 7) % 1000);
    return t;
}

const Transformer& streamed() {
    static const Transformer net(model(), 2, nullptr, kBudget);
    return net;
}

const Transformer& resident() {
    static const Transformer net(model(), 2, nullptr, int64_t(1) << 40);
    return net;
}

}  // namespace

class ForwardStreamingTest : public QObject {
    Q_OBJECT
private slots:
    void model_exceeds_the_budget_several_times() {
        QVERIFY(linear_f32_bytes() > 5 * kBudget);
        QVERIFY(layer_f32_bytes() > kBudget);
        QVERIFY(!streamed().weights_resident());
        QVERIFY(resident().weights_resident());
    }

    void streamed_weights_give_the_resident_logits_bit_for_bit() {
        ForwardOptions options;
        options.threads = 2;
        const std::vector<int32_t> input = tokens(150);  // more than one attention row block
        QVERIFY(streamed().forward(input, options) == resident().forward(input, options));
        options.first_logit_position = 120;
        QVERIFY(streamed().forward(input, options) == resident().forward(input, options));
        options.threads = 1;
        QVERIFY(streamed().forward(input, options) == resident().forward(input, options));
    }

    void decoded_weight_memory_stays_below_one_layer() {
        ForwardStats stats;
        ForwardOptions options;
        options.threads = 2;
        options.stats = &stats;
        streamed().forward(tokens(100), options);
        const int64_t held = streamed().resident_weight_bytes() + stats.peak_streamed_weight_bytes;
        qInfo("decoded weights held: %lld bytes (norms %lld + product buffers %lld); one layer in f32: %lld; "
              "all linear weights in f32: %lld",
              (long long)held, (long long)streamed().resident_weight_bytes(), (long long)stats.peak_streamed_weight_bytes,
              (long long)layer_f32_bytes(), (long long)linear_f32_bytes());
        QVERIFY(stats.peak_streamed_weight_bytes > 0);
        QVERIFY(held < layer_f32_bytes());
        QVERIFY(held <= kBudget);

        resident().forward(tokens(100), options);
        QCOMPARE(stats.peak_streamed_weight_bytes, int64_t(0));
        QVERIFY(resident().resident_weight_bytes() >= linear_f32_bytes());
    }

    void overrides_hooks_and_weights_behave_as_in_the_resident_path() {
        QVERIFY(streamed().weight("blk.2.attn_k") == resident().weight("blk.2.attn_k"));
        QVERIFY(streamed().weight("token_embd") == resident().weight("token_embd"));

        WeightOverrides zero{{"blk.1.ffn_down", std::vector<float>(size_t(256 * 688), 0.0f)},
                             {"token_embd", streamed().weight("token_embd")}};
        zero["token_embd"][7 * 256] += 0.5f;  // the first token's embedding: lookups read the override
        std::vector<std::pair<std::string, std::vector<float>>> seen[2];
        ForwardOptions options;
        options.overrides = &zero;
        std::vector<float> logits[2];
        for (int which = 0; which < 2; ++which) {
            options.on_linear_input = [&](const std::string& tensor, const float* x, int64_t rows, int64_t cols) {
                seen[which].push_back({tensor, std::vector<float>(x, x + rows * cols)});
            };
            logits[which] = (which == 0 ? streamed() : resident()).forward(tokens(40), options);
        }
        QVERIFY(logits[0] == logits[1]);
        QVERIFY(logits[0] != streamed().forward(tokens(40)));
        QCOMPARE(seen[0].size(), size_t(4 * 7 + 1));
        QVERIFY(seen[0] == seen[1]);
    }

    // Real files with every decoder a llama.cpp quantization uses (Q8_0, Q5_0, IQ4_NL, F16, F32).
    void stories260k_files_stream_to_the_resident_logits_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("f32") << "models/stories260K/gguf/stories260K-f32.gguf";
        QTest::newRow("f16") << "models/stories260K/gguf/stories260K-f16.gguf";
        QTest::newRow("Q4_K_M") << "models/stories260K/gguf-llamacpp/stories260K-Q4_K_M.gguf";
        QTest::newRow("Q2_K") << "models/stories260K/gguf-llamacpp/stories260K-Q2_K.gguf";
    }
    void stories260k_files_stream_to_the_resident_logits() {
        QFETCH(QString, file);
        const Model m = load_model(qbtest::data_path(file.toStdString()));
        const Transformer streamed_net(m, 2, nullptr, 0), resident_net(m, 2);
        QVERIFY(!streamed_net.weights_resident() && resident_net.weights_resident());
        std::vector<int32_t> input = tokens(300);
        for (int32_t& t : input) t %= 512;
        QVERIFY(streamed_net.forward(input) == resident_net.forward(input));
    }
};

QTEST_GUILESS_MAIN(ForwardStreamingTest)
#include "tst_forward_streaming.moc"
