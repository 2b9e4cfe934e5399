#include <QtTest>

#include "core/io/gguf_reader.h"
#include "tests/support/test_data.h"

using namespace qb;

class GgufReaderTest : public QObject {
    Q_OBJECT
private slots:
    void reads_stories260k_metadata_and_tensor_table() {
        GgufFile f(qbtest::stories260k("gguf"));
        QCOMPARE(f.version(), 3u);
        QCOMPARE(f.get("general.architecture").as_string(), std::string("llama"));
        QCOMPARE(f.get("llama.embedding_length").as_int(), 64);
        QCOMPARE(f.get("llama.attention.head_count_kv").as_int(), 4);
        QCOMPARE(f.get("tokenizer.ggml.tokens").as_strings().size(), size_t(512));
        QCOMPARE(f.tensors().size(), size_t(48));
        const auto& down = f.tensor("blk.0.ffn_down.weight");
        QCOMPARE(down.cols(), 172);
        QCOMPARE(down.rows(), 64);
        QCOMPARE(down.n_bytes, uint64_t(64 * 172 * 4));
        QVERIFY(down.format && down.format->name == "f32");
    }

    void lists_every_type_of_the_quant_vectors_file() {
        GgufFile f(qbtest::data_path("vectors/quant-vectors.gguf"));
        QVERIFY(f.find_tensor("input"));
        QCOMPARE(f.tensor("input").cols(), 256);
        QCOMPARE(f.tensor("input").rows(), 64);
        for (const char* t : {"q4_0", "q2_k", "q6_k", "iq4_xs", "bf16"}) QVERIFY2(f.find_tensor(t), t);
        QCOMPARE(std::string(f.tensor("q4_k").type_name()), std::string("Q4_K"));
    }
};

QTEST_GUILESS_MAIN(GgufReaderTest)
#include "tst_gguf_reader.moc"
