#include <QtTest>
#include <nlohmann/json.hpp>

#include <fstream>

#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

using qbtest::LoadedModel;

// stories260K in one of its forms with the TinyStories snippet, loaded once per form.
LoadedModel& stories(const std::string& form = "gguf") {
    static std::map<std::string, std::unique_ptr<LoadedModel>> cache;
    auto& slot = cache[form];
    if (!slot) slot = std::make_unique<LoadedModel>(qbtest::stories260k(form), qbtest::tinystories_snippet());
    return *slot;
}

PerplexityResult snippet_ppl(LoadedModel& l, int64_t ctx = 512, EvalProtocol protocol = EvalProtocol::LlamaCpp) {
    EvalOptions options;
    options.ctx = ctx;
    options.protocol = protocol;
    return evaluate_perplexity(l.net, l.text, options);
}

// Relative difference, for "within 0.1% of llama.cpp" checks.
double relative(double value, double reference) { return std::abs(value - reference) / reference; }

}  // namespace

class PerplexityTest : public QObject {
    Q_OBJECT
private slots:
    void stories260k_f32_matches_llamacpp_on_snippet() {
        const PerplexityResult r = snippet_ppl(stories());
        QCOMPARE(r.chunks, int64_t(30));
        QCOMPARE(r.tokens, int64_t(30 * 255));
        QVERIFY2(relative(r.ppl, 5.3856) < 1e-4, qPrintable(QString::number(r.ppl, 'f', 6)));
        QVERIFY2(std::abs(r.ppl_stderr - 0.119) < 0.0006, qPrintable(QString::number(r.ppl_stderr, 'f', 6)));
        QCOMPARE(r.protocol, EvalProtocol::LlamaCpp);
    }

    void stories260k_at_ctx_128_scores_121_chunks() {
        const PerplexityResult r = snippet_ppl(stories(), 128);
        QCOMPARE(r.chunks, int64_t(121));
        QCOMPARE(r.tokens, int64_t(121 * 63));
        QVERIFY2(relative(r.ppl, 5.6945) < 1e-4, qPrintable(QString::number(r.ppl, 'f', 6)));
    }

    void paper_protocol_scores_every_position() {
        const PerplexityResult r = snippet_ppl(stories(), 512, EvalProtocol::Paper);
        QCOMPARE(r.tokens, int64_t(30 * 511));
        QVERIFY2(relative(r.ppl, 5.8445) < 1e-4, qPrintable(QString::number(r.ppl, 'f', 6)));
    }

    void gguf_hf_and_llama2c_forms_give_identical_results() {
        const PerplexityResult gguf = snippet_ppl(stories("gguf"));
        for (const char* form : {"hf", "llama2c"}) {
            QCOMPARE(stories(form).text.tokens, stories("gguf").text.tokens);
            const PerplexityResult other = snippet_ppl(stories(form));
            QCOMPARE(other.ppl, gguf.ppl);
            QCOMPARE(other.ppl_stderr, gguf.ppl_stderr);
        }
    }

    void crlf_text_evaluates_like_lf_text() {
        QCOMPARE(normalize_newlines("a\r\nb\rc\n\r\n"), std::string("a\nb\nc\n\n"));
        std::string crlf;
        for (char c : qbtest::tinystories_snippet()) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
        const EvalText text = evaluation_text(model_tokenizer(stories().model), crlf);
        QCOMPARE(text.tokens, stories().text.tokens);
    }

    void llamacpp_quantized_files_reproduce_llamacpp_perplexity_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<double>("reference");
        QTest::newRow("Q6_K") << "stories260K-Q6_K.gguf" << 5.3816;
        QTest::newRow("Q4_K_M") << "stories260K-Q4_K_M.gguf" << 5.4772;
        QTest::newRow("Q2_K") << "stories260K-Q2_K.gguf" << 5.6796;
    }
    void llamacpp_quantized_files_reproduce_llamacpp_perplexity() {
        QFETCH(QString, file);
        QFETCH(double, reference);
        const Model model = load_model(qbtest::data_path("models/stories260K/gguf-llamacpp/" + file.toStdString()));
        for (const TensorView& t : model.tensors)
            if (!t.format || !t.format->decode_row)
                QSKIP(qPrintable("no decoder for " + QString::fromStdString(t.source_name)));
        const Transformer net(model);
        const PerplexityResult r = evaluate_perplexity(net, evaluation_text(model_tokenizer(model), qbtest::tinystories_snippet()), {});
        QVERIFY2(relative(r.ppl, reference) < 1e-3, qPrintable(QString::number(r.ppl, 'f', 6)));
    }

    void kld_of_a_model_against_itself_is_exactly_zero() {
        const KldResult r = evaluate_kld(stories().net, stories().net, stories().text, {});
        QCOMPARE(r.tokens, int64_t(30 * 255));
        QCOMPARE(r.mean_kld, 0.0);
        QCOMPARE(r.max_kld, 0.0);
        QCOMPARE(r.top1_agreement, 1.0);
        QCOMPARE(r.rms_delta_p, 0.0);
        QCOMPARE(r.ppl_ratio, 1.0);
        QCOMPARE(r.model.ppl, snippet_ppl(stories()).ppl);
    }

    void kld_against_the_f16_copy_is_tiny_but_not_zero() {
        LoadedModel f16(qbtest::data_path("models/stories260K/gguf/stories260K-f16.gguf"), qbtest::tinystories_snippet());
        const KldResult r = evaluate_kld(f16.net, stories().net, stories().text, {});
        QVERIFY2(r.mean_kld > 0 && r.mean_kld < 1e-4, qPrintable(QString::number(r.mean_kld)));
        QVERIFY(r.max_kld < 1e-2);
        QVERIFY(r.median_kld <= r.p99_kld && r.p99_kld <= r.max_kld);
        QVERIFY(r.top1_agreement > 0.99 && r.top1_agreement < 1.0 + 1e-12);
        QVERIFY(std::abs(r.ppl_ratio - 1) < 1e-3);
        QVERIFY2(relative(r.model.ppl, 5.3855) < 1e-4, qPrintable(QString::number(r.model.ppl, 'f', 6)));
    }

    void rejects_empty_text() {
        QCOMPARE(error_of([] { evaluation_text(model_tokenizer(stories().model), ""); }),
                 QString("text: empty: there is nothing to evaluate"));
    }

    void rejects_text_shorter_than_two_chunks() {
        const EvalText text = evaluation_text(model_tokenizer(stories().model), qbtest::tinystories_snippet().substr(0, 2000));
        const QString tokens = QString::number(text.tokens.size());
        QCOMPARE(error_of([&] { evaluate_perplexity(stories().net, text, {}); }),
                 "eval: text too short: " + tokens + " tokens, but 2 chunks of 512 need 1024");
    }

    void rejects_context_larger_than_the_model() {
        EvalOptions options;
        options.ctx = 1024;
        QCOMPARE(error_of([&] { evaluate_perplexity(stories().net, stories().text, options); }),
                 QString("eval: context of 1024 tokens exceeds the model's context of 512"));
    }

    void rejects_unknown_protocol() {
        QCOMPARE(error_of([] { protocol_by_name("wikitext"); }),
                 QString("protocol: unknown evaluation protocol 'wikitext' (known: llama.cpp, paper)"));
    }

    void rejects_model_without_tokenizer() {
        Model model = load_model(qbtest::stories260k("gguf"));
        model.tokenizer = {};
        QCOMPARE(error_of([&] { model_tokenizer(model); }),
                 QString::fromStdString(model.source_path.string()) + ": has no tokenizer, so text cannot be evaluated with it");
    }

    void rejects_kld_between_different_vocabularies() {
        Model small = load_model(qbtest::stories260k("gguf"));
        for (TensorView& t : small.tensors)
            if (t.name == "token_embd" || t.name == "output") {
                t.shape[0] = 256;
                t.data = t.data.first(t.format->tensor_bytes(256, t.cols()));
            }
        small.hparams.n_vocab = 256;
        const Transformer base(small);
        QCOMPARE(error_of([&] { evaluate_kld(stories().net, base, stories().text, {}); }),
                 QString("eval: vocabulary mismatch: the model has 512 tokens, the base model 256"));
    }

    void eval_cli_reports_the_llamacpp_perplexity_as_json() {
        const auto r = qbtest::run_cli({"eval", qbtest::stories260k("gguf").string(), "--text",
                                        qbtest::data_path("text/tinystories-snippet-30k.txt").string(), "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["protocol"].get<std::string>(), std::string("llama.cpp"));
        QCOMPARE(doc["chunks"].get<int>(), 30);
        QCOMPARE(doc["scored_tokens"].get<int>(), 30 * 255);
        QVERIFY(relative(doc["ppl"].get<double>(), 5.3856) < 1e-4);
        QVERIFY2(r.err.find("perplexity: 100% done") != std::string::npos, r.err.c_str());
    }

    void eval_cli_compares_a_model_with_itself_by_kld() {
        const std::string model = qbtest::stories260k("llama2c").string();
        const auto r = qbtest::run_cli({"eval", model, "--text", qbtest::data_path("text/tinystories-snippet-30k.txt").string(),
                                        "--ctx", "128", "--chunks", "4", "--protocol", "paper", "--base", model, "--kld"});
        QCOMPARE(r.exit_code, 0);
        QVERIFY2(r.out.find("protocol   paper, ctx 128, 4 chunks, 508 scored tokens") != std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("KLD        mean 0.000000 ± 0.000000") != std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("top-1      100.000% agreement") != std::string::npos, r.out.c_str());
    }

    void eval_cli_explains_bad_usage_and_short_text() {
        const std::string model = qbtest::stories260k("gguf").string();
        const auto text = qbtest::scratch_dir() / "short.txt";
        std::ofstream(text) << "Once upon a time.\r\n";
        auto r = qbtest::run_cli({"eval", model, "--text", text.string(), "--kld"});
        QCOMPARE(r.exit_code, 2);
        QCOMPARE(r.err, std::string("quantbench-cli eval: usage: --kld and --base MODEL go together\n"));
        r = qbtest::run_cli({"eval", model, "--text", text.string()});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.find("quantbench-cli eval: eval: text too short: 7 tokens, but 2 chunks of 512 need 1024") !=
                     std::string::npos,
                 r.err.c_str());
    }

    // The full WikiText-2 test split: 1580 chunks, about 30 s in Release on two cores.
    void stories260k_f32_matches_llamacpp_on_wikitext() {
        LoadedModel wiki(qbtest::stories260k("gguf"), qbtest::read_text("text/wiki.test.raw"));
        const PerplexityResult r = evaluate_perplexity(wiki.net, wiki.text, {});
        qInfo("wiki.test.raw: %lld chunks, ppl %.4f ± %.4f", (long long)r.chunks, r.ppl, r.ppl_stderr);
        QCOMPARE(r.chunks, int64_t(1580));
        QVERIFY2(relative(r.ppl, 127.5575) < 1e-3, qPrintable(QString::number(r.ppl, 'f', 4)));
    }
};

QTEST_GUILESS_MAIN(PerplexityTest)
#include "tst_perplexity.moc"
