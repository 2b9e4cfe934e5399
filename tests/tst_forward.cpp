#include <QtTest>

#include <cmath>
#include <random>
#include <tuple>

#include "core/infer/forward.h"
#include "core/infer/matmul.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

using qbtest::gpt2_spec, qbtest::neox_spec, qbtest::llama_gqa_spec, qbtest::qwen2_spec;
using qbtest::synthetic_model, qbtest::SyntheticSpec;

void zero_tensor(Model& model, const std::string& name) {
    const TensorView& t = model.tensor(name);
    std::fill_n(const_cast<float*>(reinterpret_cast<const float*>(t.data.data())), t.numel(), 0.0f);
}

// ---- independent naive forward in double precision ------------------------------------------------------
// Written from the architectures' definitions (Hugging Face modelling code), not from forward.cpp.

using Vec = std::vector<double>;

struct Reference {
    const Model& m;
    const SyntheticSpec& spec;

    Vec get(const std::string& name) const {
        const std::vector<float> f = m.tensor(name).to_f32();
        return Vec(f.begin(), f.end());
    }
    bool has(const std::string& name) const { return m.find(name) != nullptr; }

    Vec norm(const Vec& x, const std::string& name) const {
        const int64_t e = m.hparams.n_embd;
        const Vec w = get(name);
        const Vec b = has(name + ".bias") ? get(name + ".bias") : Vec(size_t(e), 0.0);
        double mean = 0, var = 0;
        if (spec.layer_norm)
            for (double v : x) mean += v / double(e);
        for (double v : x) var += (v - mean) * (v - mean) / double(e);
        Vec y(static_cast<size_t>(e));
        for (int64_t i = 0; i < e; ++i) y[size_t(i)] = (x[size_t(i)] - mean) / std::sqrt(var + m.hparams.norm_eps) * w[size_t(i)] + b[size_t(i)];
        return y;
    }

    Vec linear(const Vec& x, const std::string& name) const {
        const TensorView& t = m.tensor(name);
        const Vec w = get(name);
        Vec y(size_t(t.rows()), 0.0);
        for (int64_t r = 0; r < t.rows(); ++r)
            for (int64_t c = 0; c < t.cols(); ++c) y[size_t(r)] += w[size_t(r * t.cols() + c)] * x[size_t(c)];
        if (has(name + ".bias")) {
            const Vec b = get(name + ".bias");
            for (size_t r = 0; r < y.size(); ++r) y[r] += b[r];
        }
        return y;
    }

    // Rotates one head in place: llama's GGUF layout pairs (2i, 2i+1); NeoX and Qwen2 rotate halves.
    void rope(double* head, int64_t pos) const {
        const int64_t d = m.hparams.rope_dims;
        const bool adjacent = spec.architecture == "llama";
        for (int64_t i = 0; i < d / 2; ++i) {
            const double angle = double(pos) / std::pow(m.hparams.rope_theta, double(2 * i) / double(d));
            double& a = adjacent ? head[2 * i] : head[i];
            double& b = adjacent ? head[2 * i + 1] : head[i + d / 2];
            const double a0 = a, b0 = b;
            a = a0 * std::cos(angle) - b0 * std::sin(angle);
            b = a0 * std::sin(angle) + b0 * std::cos(angle);
        }
    }

    double act(double x) const {
        if (spec.architecture == "gpt2") return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        if (spec.architecture == "gpt-neox") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        return x / (1 + std::exp(-x));
    }

    std::vector<Vec> run(const std::vector<int32_t>& tokens) const {
        const HyperParams& hp = m.hparams;
        const int64_t n = int64_t(tokens.size()), e = hp.n_embd, hd = hp.head_dim;
        const int64_t q_width = hp.n_head * hd, kv_width = hp.n_head_kv * hd;
        const Vec emb = get("token_embd");
        std::vector<Vec> x(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            x[size_t(i)] = Vec(emb.begin() + tokens[size_t(i)] * e, emb.begin() + (tokens[size_t(i)] + 1) * e);
            if (spec.learned_positions) {
                const Vec pos = get("position_embd");
                for (int64_t c = 0; c < e; ++c) x[size_t(i)][size_t(c)] += pos[size_t(i * e + c)];
            }
        }
        for (int64_t l = 0; l < hp.n_layer; ++l) {
            const std::string blk = "blk." + std::to_string(l) + ".";
            std::vector<Vec> q(static_cast<size_t>(n)), k(static_cast<size_t>(n)), v(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                const Vec h = norm(x[size_t(i)], blk + "attn_norm");
                if (spec.fused_qkv) {
                    const Vec qkv = linear(h, blk + "attn_qkv");
                    q[size_t(i)] = Vec(qkv.begin(), qkv.begin() + q_width);
                    k[size_t(i)] = Vec(qkv.begin() + q_width, qkv.begin() + q_width + kv_width);
                    v[size_t(i)] = Vec(qkv.begin() + q_width + kv_width, qkv.end());
                } else {
                    q[size_t(i)] = linear(h, blk + "attn_q");
                    k[size_t(i)] = linear(h, blk + "attn_k");
                    v[size_t(i)] = linear(h, blk + "attn_v");
                }
                if (!spec.learned_positions) {
                    for (int64_t hh = 0; hh < hp.n_head; ++hh) rope(q[size_t(i)].data() + hh * hd, i);
                    for (int64_t hh = 0; hh < hp.n_head_kv; ++hh) rope(k[size_t(i)].data() + hh * hd, i);
                }
            }
            std::vector<Vec> next(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                Vec mixed(size_t(q_width), 0.0);
                for (int64_t hh = 0; hh < hp.n_head; ++hh) {
                    const int64_t g = hh / (hp.n_head / hp.n_head_kv);
                    Vec w(size_t(i + 1));
                    double max_w = -1e300, sum = 0;
                    for (int64_t j = 0; j <= i; ++j) {
                        double dot = 0;
                        for (int64_t d = 0; d < hd; ++d) dot += q[size_t(i)][size_t(hh * hd + d)] * k[size_t(j)][size_t(g * hd + d)];
                        w[size_t(j)] = dot / std::sqrt(double(hd));
                        max_w = std::max(max_w, w[size_t(j)]);
                    }
                    for (double& s : w) sum += (s = std::exp(s - max_w));
                    for (int64_t j = 0; j <= i; ++j)
                        for (int64_t d = 0; d < hd; ++d) mixed[size_t(hh * hd + d)] += w[size_t(j)] / sum * v[size_t(j)][size_t(g * hd + d)];
                }
                const Vec attn = linear(mixed, blk + "attn_output");
                Vec residual = x[size_t(i)];
                if (!spec.parallel_residual)
                    for (int64_t c = 0; c < e; ++c) residual[size_t(c)] += attn[size_t(c)];
                const Vec h = norm(spec.parallel_residual ? x[size_t(i)] : residual, blk + "ffn_norm");
                Vec up = linear(h, blk + "ffn_up");
                if (spec.gated) {
                    const Vec gate = linear(h, blk + "ffn_gate");
                    for (size_t c = 0; c < up.size(); ++c) up[c] *= act(gate[c]);
                } else {
                    for (double& u : up) u = act(u);
                }
                const Vec down = linear(up, blk + "ffn_down");
                for (int64_t c = 0; c < e; ++c)
                    residual[size_t(c)] += down[size_t(c)] + (spec.parallel_residual ? attn[size_t(c)] : 0.0);
                next[size_t(i)] = residual;
            }
            x = next;
        }
        std::vector<Vec> logits;
        for (const Vec& row : x) logits.push_back(linear(norm(row, "output_norm"), spec.tied ? "token_embd" : "output"));
        return logits;
    }
};

std::vector<int32_t> test_tokens(int64_t n, int64_t vocab) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) t[size_t(i)] = int32_t((i * 37 + 11) % vocab);
    return t;
}

double max_abs_difference(const std::vector<float>& logits, const std::vector<Vec>& reference, int64_t first_row) {
    double worst = 0;
    const size_t vocab = reference[0].size();
    for (size_t r = 0; r + size_t(first_row) < reference.size(); ++r)
        for (size_t v = 0; v < vocab; ++v)
            worst = std::max(worst, std::abs(double(logits[r * vocab + v]) - reference[r + size_t(first_row)][v]));
    return worst;
}

using qbtest::stories260k_model;

const Transformer& stories_net() {
    static const Transformer net(stories260k_model());
    return net;
}

}  // namespace

class ForwardTest : public QObject {
    Q_OBJECT
private slots:
    void matmul_matches_double_products_on_ragged_strided_shapes_data() {
        QTest::addColumn<int>("m");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::newRow("1x1x1") << 1 << 1 << 1;
        QTest::newRow("7x33x300") << 7 << 33 << 300;
        QTest::newRow("130x515x257") << 130 << 515 << 257;
        QTest::newRow("9x40x0") << 9 << 40 << 0;
    }
    void matmul_matches_double_products_on_ragged_strided_shapes() {
        QFETCH(int, m);
        QFETCH(int, n);
        QFETCH(int, k);
        const int64_t lda = k + 3, ldb = k + 5, ldc = n + 2;
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> u(-1, 1);
        std::vector<float> a(size_t(m * lda)), b(size_t(n * ldb)), c(size_t(m * ldc), 99.0f);
        for (float& x : a) x = u(rng);
        for (float& x : b) x = u(rng);
        matmul_nt({a.data(), m, k, lda}, {b.data(), n, k, ldb}, {c.data(), m, n, ldc}, 2);
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
                if (j >= n) {
                    QCOMPARE(c[size_t(i * ldc + j)], 99.0f);  // padding between rows is left alone
                    continue;
                }
                double expected = 0;
                for (int64_t p = 0; p < k; ++p) expected += double(a[size_t(i * lda + p)]) * b[size_t(j * ldb + p)];
                QVERIFY(std::abs(c[size_t(i * ldc + j)] - expected) < 1e-5 * (1 + std::sqrt(double(k))));
            }
    }

    void packed_weights_multiply_bit_identically_and_unpack_exactly() {
        for (const auto& [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{5, 33, 300}, {70, 1100, 520}, {1, 1, 1}}) {
            std::vector<float> a(size_t(m * k)), b(size_t(n * k)), plain(size_t(m * n)), packed(plain.size());
            std::mt19937 rng(11);
            std::normal_distribution<float> normal;
            for (float& x : a) x = normal(rng);
            for (float& x : b) x = normal(rng);
            const PackedMatrix packed_b({b.data(), n, k, k}, 2);
            QCOMPARE(packed_b.unpack(), b);
            matmul_nt({a.data(), m, k, k}, {b.data(), n, k, k}, {plain.data(), m, n, n}, 2);
            matmul_nt({a.data(), m, k, k}, packed_b, {packed.data(), m, n, n}, 2);
            QVERIFY(plain == packed);
        }
    }

    void matmul_results_do_not_depend_on_thread_count() {
        const int64_t m = 300, n = 700, k = 600;
        std::vector<float> a(size_t(m * k)), b(size_t(n * k)), c1(size_t(m * n)), c2(c1.size());
        std::mt19937 rng(3);
        std::normal_distribution<float> normal;
        for (float& x : a) x = normal(rng);
        for (float& x : b) x = normal(rng);
        matmul_nt({a.data(), m, k, k}, {b.data(), n, k, k}, {c1.data(), m, n, n}, 1);
        matmul_nt({a.data(), m, k, k}, {b.data(), n, k, k}, {c2.data(), m, n, n}, 2);
        QVERIFY(c1 == c2);
    }

    void synthetic_models_match_a_naive_double_forward_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("gpt2: LayerNorm, gelu, learned positions, fused qkv, biases, tied") << 0;
        QTest::newRow("gpt-neox: partial NeoX rotary, parallel residual, fused qkv") << 1;
        QTest::newRow("llama: GQA, interleaved rotary, SwiGLU, RMSNorm") << 2;
        QTest::newRow("qwen2: q/k/v biases, one kv head, rotate-half rotary") << 3;
    }
    void synthetic_models_match_a_naive_double_forward() {
        QFETCH(int, which);
        const SyntheticSpec spec = std::vector{gpt2_spec(), neox_spec(), llama_gqa_spec(), qwen2_spec()}[size_t(which)];
        const Model model = synthetic_model(spec);
        const Transformer net(model, 2);
        const std::vector<int32_t> tokens = test_tokens(90, model.hparams.n_vocab);  // crosses an attention row block
        const std::vector<Vec> expected = Reference{model, spec}.run(tokens);
        const double difference = max_abs_difference(net.forward(tokens), expected, 0);
        QVERIFY2(difference < 1e-4, qPrintable(QString::number(difference)));
    }

    void logits_can_be_limited_to_the_last_positions() {
        const Model model = synthetic_model(llama_gqa_spec());
        const Transformer net(model);
        const std::vector<int32_t> tokens = test_tokens(40, 50);
        ForwardOptions options;
        options.first_logit_position = 25;
        const std::vector<float> all = net.forward(tokens), tail = net.forward(tokens, options);
        QCOMPARE(tail.size(), size_t(15 * 50));
        QVERIFY(std::equal(tail.begin(), tail.end(), all.begin() + 25 * 50));
    }

    void weight_overrides_replace_a_tensor_without_copying_the_model() {
        const SyntheticSpec spec = neox_spec();
        Model model = synthetic_model(spec);
        const Transformer net(model);
        const std::vector<int32_t> tokens = test_tokens(20, 50);
        const std::vector<float> base = net.forward(tokens);

        WeightOverrides same{{"blk.1.ffn_down", net.weight("blk.1.ffn_down")}};
        ForwardOptions options;
        options.overrides = &same;
        QVERIFY(net.forward(tokens, options) == base);

        WeightOverrides zero{{"blk.1.ffn_down", std::vector<float>(net.weight("blk.1.ffn_down").size(), 0.0f)}};
        options.overrides = &zero;
        const std::vector<float> overridden = net.forward(tokens, options);
        zero_tensor(model, "blk.1.ffn_down");
        QVERIFY(max_abs_difference(overridden, Reference{model, spec}.run(tokens), 0) < 1e-4);
        QVERIFY(overridden != base);
    }

    void rejects_bad_overrides_and_tokens() {
        const Model model = synthetic_model(llama_gqa_spec());
        const Transformer net(model);
        WeightOverrides wrong_size{{"blk.0.attn_q", std::vector<float>(5)}};
        WeightOverrides unknown{{"blk.9.attn_q", std::vector<float>(5)}};
        ForwardOptions options;
        options.overrides = &wrong_size;
        QCOMPARE(error_of([&] { net.forward(test_tokens(4, 50), options); }),
                 QString("weight override: tensor 'blk.0.attn_q' needs 1024 values, got 5"));
        options.overrides = &unknown;
        QCOMPARE(error_of([&] { net.forward(test_tokens(4, 50), options); }),
                 QString("weight override: the model has no tensor 'blk.9.attn_q'"));
        QCOMPARE(error_of([&] { net.forward(std::vector<int32_t>{1, 50}); }),
                 QString("forward: token id 50 at position 1 is outside the vocabulary of 50"));
        QCOMPARE(error_of([&] { net.forward(test_tokens(97, 50)); }),
                 QString("forward: 97 tokens exceed the model's context of 96"));
        QCOMPARE(error_of([&] { net.forward(std::vector<int32_t>{}); }), QString("forward: no tokens to process"));
    }

    void rejects_unsupported_architecture_and_misshapen_tensors() {
        Model model = synthetic_model(llama_gqa_spec());
        model.architecture = "mamba";
        QCOMPARE(error_of([&] { Transformer net(model); }),
                 QString("architecture: no forward pass for 'mamba' (supported: llama, mistral, qwen2, gpt2, gpt-neox)"));
        Model gqa_as_mha = synthetic_model(llama_gqa_spec());
        gqa_as_mha.hparams.n_head_kv = 4;
        QCOMPARE(error_of([&] { Transformer net(gqa_as_mha); }),
                 QString("synthetic-llama: tensor 'blk.0.attn_k' is 16x32, expected 32x32"));
    }

    void linear_input_hook_sees_every_linear_layer_of_stories260k() {
        std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> seen;
        ForwardOptions options;
        options.first_logit_position = 30;
        options.on_linear_input = [&](const std::string& tensor, const float*, int64_t rows, int64_t cols) {
            seen.push_back({tensor, {rows, cols}});
        };
        stories_net().forward(test_tokens(40, 512), options);
        QCOMPARE(seen.size(), size_t(5 * 7 + 1));
        const std::vector<std::pair<std::string, int64_t>> block = {{"attn_q", 64},   {"attn_k", 64}, {"attn_v", 64},
                                                                    {"attn_output", 64}, {"ffn_up", 64}, {"ffn_gate", 64},
                                                                    {"ffn_down", 172}};
        for (size_t l = 0; l < 5; ++l)
            for (size_t i = 0; i < block.size(); ++i) {
                QCOMPARE(seen[l * 7 + i].first, "blk." + std::to_string(l) + "." + block[i].first);
                QCOMPARE(seen[l * 7 + i].second, std::make_pair(int64_t(40), block[i].second));
            }
        QCOMPARE(seen.back().first, std::string("output"));
        QCOMPARE(seen.back().second, std::make_pair(int64_t(10), int64_t(64)));
    }

    void forward_is_bit_identical_across_thread_counts() {
        ForwardOptions one, two;
        one.threads = 1;
        two.threads = 2;
        const std::vector<int32_t> tokens = test_tokens(200, 512);
        QVERIFY(stories_net().forward(tokens, one) == stories_net().forward(tokens, two));
    }

    void stories260k_greedy_generation_tells_the_expected_story() {
        const std::vector<int32_t> ids = generate_greedy(stories_net(), {1}, 32);
        const std::string text = model_tokenizer(stories260k_model()).decode(ids);
        const std::string expected = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
        QVERIFY2(text.find(expected) <= 1, text.c_str());  // after the SentencePiece leading space, if kept
    }
};

QTEST_GUILESS_MAIN(ForwardTest)
#include "tst_forward.moc"
