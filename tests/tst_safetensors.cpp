#include <QtTest>

#include <cstring>
#include <fstream>

#include "core/io/safetensors_reader.h"
#include "core/io/safetensors_writer.h"
#include "core/util/error.h"
#include "core/util/half.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

template <typename T>
std::span<const uint8_t> bytes_of(const std::vector<T>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

std::vector<uint8_t> to_vector(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

uint64_t peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

}  // namespace

class SafetensorsTest : public QObject {
    Q_OBJECT
private slots:
    void reads_stories260k_header_tensors_and_metadata() {
        SafetensorsFile f(qbtest::data_path("models/stories260K/hf/model.safetensors"));
        QCOMPARE(f.tensors().size(), size_t(47));
        QCOMPARE(f.data_offset(), uint64_t(8 + 4848));
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        const SafetensorsTensor& embd = f.tensors().front();  // tensors come in data order
        QCOMPARE(embd.name, std::string("model.embed_tokens.weight"));
        QCOMPARE(embd.shape, (std::vector<int64_t>{512, 64}));
        QCOMPARE(embd.format->name, std::string("f32"));
        QCOMPARE(embd.data.size(), size_t(512 * 64 * 4));
        QCOMPARE(embd.data.data(), f.mapping()->bytes().data() + f.data_offset());
        const SafetensorsTensor* k = f.find_tensor("model.layers.4.self_attn.k_proj.weight");
        QVERIFY(k);
        QCOMPARE(k->shape, (std::vector<int64_t>{32, 64}));
    }

    void round_trips_every_plain_dtype_with_aligned_data() {
        const std::vector<float> f32 = {1.5f, -2.25f, 3e-8f, 65504.0f, -0.0f, 7.0f};
        const std::vector<double> f64 = {1.0 / 3.0, -1e300};
        std::vector<uint16_t> f16, bf16;
        for (float x : f32) f16.push_back(fp32_to_fp16(x)), bf16.push_back(fp32_to_bf16(x));
        const std::vector<int8_t> i8 = {-128, 0, 127};
        const std::vector<uint8_t> u8 = {0, 200, 255};
        const std::vector<int16_t> i16 = {-32768, 12345};
        const std::vector<int32_t> i32 = {-7, 1 << 30};
        const std::vector<int64_t> i64 = {int64_t(1) << 40, -3};
        const auto path = qbtest::scratch_dir() / "dtypes.safetensors";
        write_safetensors(path,
                          {{"a.f32", "F32", {2, 3}, bytes_of(f32)},
                           {"b.f64", "F64", {2}, bytes_of(f64)},
                           {"c.f16", "F16", {3, 2}, bytes_of(f16)},
                           {"d.bf16", "BF16", {6}, bytes_of(bf16)},
                           {"e.i8", "I8", {3}, bytes_of(i8)},
                           {"f.u8", "U8", {3, 1}, bytes_of(u8)},
                           {"g.i16", "I16", {2}, bytes_of(i16)},
                           {"h.i32", "I32", {2}, bytes_of(i32)},
                           {"i.i64", "I64", {1, 2}, bytes_of(i64)}},
                          {{"format", "pt"}, {"producer", "quantbench"}});
        SafetensorsFile f(path);
        QCOMPARE(f.data_offset() % 8, uint64_t(0));
        QCOMPARE(f.metadata().at("producer"), std::string("quantbench"));
        QCOMPARE(f.tensors().size(), size_t(9));
        QCOMPARE(to_vector(f.find_tensor("a.f32")->data), to_vector(bytes_of(f32)));
        QCOMPARE(f.find_tensor("a.f32")->shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(to_vector(f.find_tensor("b.f64")->data), to_vector(bytes_of(f64)));
        QCOMPARE(to_vector(f.find_tensor("c.f16")->data), to_vector(bytes_of(f16)));
        QCOMPARE(to_vector(f.find_tensor("i.i64")->data), to_vector(bytes_of(i64)));
        const auto ints = decode_tensor(*f.find_tensor("h.i32")->format, f.find_tensor("h.i32")->data, 1, 2);
        QCOMPARE(ints, (std::vector<float>{-7.0f, 1073741824.0f}));
        const auto u8_values = decode_tensor(*f.find_tensor("f.u8")->format, f.find_tensor("f.u8")->data, 3, 1);
        QCOMPARE(u8_values, (std::vector<float>{0.0f, 200.0f, 255.0f}));
        QCOMPARE(f.find_tensor("d.bf16")->format->name, std::string("bf16"));
    }

    void reads_fp8_tensors_through_the_format_registry() {
        const std::vector<uint8_t> e4m3 = {0x38, 0x40, 0xb8, 0x7e};  // 1, 2, -1, 448
        const std::vector<uint8_t> e5m2 = {0x3c, 0x40, 0xbc, 0x7b};  // 1, 2, -1, 57344
        const auto path = qbtest::scratch_dir() / "fp8.safetensors";
        write_safetensors(path, {{"e4m3", "F8_E4M3", {4}, e4m3}, {"e5m2", "F8_E5M2", {2, 2}, e5m2}});
        SafetensorsFile f(path);
        const SafetensorsTensor& a = *f.find_tensor("e4m3");
        const SafetensorsTensor& b = *f.find_tensor("e5m2");
        QCOMPARE(a.format->name, std::string("fp8_e4m3"));
        QCOMPARE(b.format->name, std::string("fp8_e5m2"));
        QCOMPARE(decode_tensor(*a.format, a.data, 1, 4), (std::vector<float>{1.0f, 2.0f, -1.0f, 448.0f}));
        QCOMPARE(decode_tensor(*b.format, b.data, 2, 2), (std::vector<float>{1.0f, 2.0f, -1.0f, 57344.0f}));
    }

    void streams_a_256_mib_tensor_with_bounded_memory() {
        constexpr int64_t rows = 16384, cols = 4096;  // 256 MiB of f32
        const auto path = qbtest::scratch_dir() / "large.safetensors";
        const uint64_t peak_before = peak_rss_kib();
        write_safetensors(path, {{"big", "F32", {rows, cols}, {}, [&](const ByteSink& sink) {
                                      std::vector<float> row(cols);
                                      for (int64_t r = 0; r < rows; ++r) {
                                          std::fill(row.begin(), row.end(), float(r));
                                          sink(bytes_of(row));
                                      }
                                  }}});
        const uint64_t growth_mib = (peak_rss_kib() - peak_before) / 1024;
        QVERIFY2(growth_mib < 16, (std::to_string(growth_mib) + " MiB").c_str());
        SafetensorsFile f(path);
        const SafetensorsTensor& big = f.tensors().front();
        QCOMPARE(big.data.size(), size_t(rows * cols * 4));
        float last;
        std::memcpy(&last, big.data.data() + big.data.size() - 4, 4);
        QCOMPARE(last, float(rows - 1));
        std::filesystem::remove(path);
    }

    void producer_of_the_wrong_size_fails_and_leaves_no_file() {
        const auto path = qbtest::scratch_dir() / "short.safetensors";
        const std::vector<float> three = {1, 2, 3};
        try {
            write_safetensors(path, {{"w", "F32", {4}, {}, [&](const ByteSink& sink) { sink(bytes_of(three)); }}});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), path.string() + ": tensor 'w': producer wrote 12 bytes, shape needs 16");
        }
        QVERIFY(!std::filesystem::exists(path));
        for (const auto& entry : std::filesystem::directory_iterator(qbtest::scratch_dir()))
            QVERIFY2(entry.path().filename().string().find("short.safetensors") == std::string::npos,
                     entry.path().c_str());
    }

    void writer_rejects_duplicate_names_and_unknown_dtypes() {
        const auto path = qbtest::scratch_dir() / "bad.safetensors";
        const std::vector<float> one = {1};
        QVERIFY_THROWS_EXCEPTION(Error, write_safetensors(path, {{"x", "F32", {1}, bytes_of(one)}, {"x", "F32", {1}, bytes_of(one)}}));
        try {
            write_safetensors(path, {{"x", "Q4", {1}, bytes_of(one)}});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), path.string() + ": tensor 'x': unknown dtype 'Q4'");
        }
    }

    void sharded_set_combines_the_shards_listed_by_the_index() {
        const auto dir = qbtest::scratch_dir() / "sharded-set";
        std::filesystem::create_directories(dir);
        const std::vector<float> a = {1, 2}, b = {3, 4, 5};
        write_safetensors(dir / "part-1.safetensors", {{"a", "F32", {2}, bytes_of(a)}});
        write_safetensors(dir / "part-2.safetensors", {{"b", "F32", {3}, bytes_of(b)}});
        write_safetensors_index(dir / "model.safetensors.index.json", {{"a", "part-1.safetensors"}, {"b", "part-2.safetensors"}}, 20);
        SafetensorsSet set(dir / "model.safetensors.index.json");
        QVERIFY(set.sharded());
        QCOMPARE(set.shards().size(), size_t(2));
        QCOMPARE(set.tensors().size(), size_t(2));
        QCOMPARE(set.tensors()[1].tensor->name, std::string("b"));
        QCOMPARE(set.tensors()[1].shard->path().filename().string(), std::string("part-2.safetensors"));
        QCOMPARE(to_vector(set.tensors()[1].tensor->data), to_vector(bytes_of(b)));
    }
};

QTEST_GUILESS_MAIN(SafetensorsTest)
#include "tst_safetensors.moc"
