#include <QtTest>

#include <fstream>
#include <iterator>

#include "core/io/gguf_reader.h"
#include "core/io/gguf_writer.h"
#include "core/jobs/job.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

std::vector<uint8_t> file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The file's metadata (in file order) and tensors (in file order, data copied from the map).
std::pair<std::vector<GgufKv>, std::vector<GgufTensorSpec>> contents_of(const GgufFile& file) {
    std::vector<GgufKv> kvs;
    for (const auto& key : file.metadata_keys()) kvs.push_back({key, file.get(key)});
    std::vector<GgufTensorSpec> tensors;
    for (const auto& t : file.tensors())
        tensors.push_back({t.name, t.dims, t.ggml_type, [&t] { return std::vector<uint8_t>(t.data.begin(), t.data.end()); }});
    return {kvs, tensors};
}

void check_rewrite_is_byte_identical(const std::filesystem::path& original, const std::string& copy_name) {
    const GgufFile file(original);
    const auto [kvs, tensors] = contents_of(file);
    const auto copy = qbtest::scratch_dir() / copy_name;
    const uint64_t size = write_gguf(copy, kvs, tensors);
    QCOMPARE(size, uint64_t(std::filesystem::file_size(original)));
    QCOMPARE(gguf_layout(kvs, tensors).file_size, size);
    QVERIFY(file_bytes(copy) == file_bytes(original));
}

GgufTensorSpec f32_tensor(const std::string& name, std::vector<uint64_t> dims, float first) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    return {name, std::move(dims), 0, [n, first] {
                std::vector<float> values(n);
                for (uint64_t i = 0; i < n; ++i) values[i] = first + float(i);
                std::vector<uint8_t> bytes(n * 4);
                std::memcpy(bytes.data(), values.data(), bytes.size());
                return bytes;
            }};
}

bool leftovers_beside(const std::filesystem::path& target) {
    for (const auto& entry : std::filesystem::directory_iterator(target.parent_path()))
        if (entry.path().filename().string().starts_with(target.filename().string())) return true;
    return false;
}

}  // namespace

class GgufWriterTest : public QObject {
    Q_OBJECT
private slots:
    void rewrites_stories260k_f32_byte_for_byte() {
        check_rewrite_is_byte_identical(qbtest::data_path("models/stories260K/gguf/stories260K-f32.gguf"), "f32.gguf");
    }

    void rewrites_stories260k_f16_byte_for_byte() {
        check_rewrite_is_byte_identical(qbtest::data_path("models/stories260K/gguf/stories260K-f16.gguf"), "f16.gguf");
    }

    void rewrites_a_mixed_type_llamacpp_file_byte_for_byte() {
        check_rewrite_is_byte_identical(qbtest::data_path("models/stories260K/gguf-llamacpp/stories260K-Q4_K_M.gguf"),
                                        "q4_k_m.gguf");
    }

    void writes_every_metadata_type_and_reads_it_back() {
        const std::vector<GgufKv> kvs = {
            {"t.u8", {GgufType::U8, GgufType::U8, uint64_t(255)}},
            {"t.i8", {GgufType::I8, GgufType::U8, int64_t(-128)}},
            {"t.u16", {GgufType::U16, GgufType::U8, uint64_t(65535)}},
            {"t.i16", {GgufType::I16, GgufType::U8, int64_t(-32768)}},
            {"t.u32", gguf_u32(4000000000u)},
            {"t.i32", gguf_i32(-2000000000)},
            {"t.f32", gguf_f32(1e-5f)},
            {"t.bool", gguf_bool(true)},
            {"t.string", gguf_string("héllo")},
            {"t.u64", {GgufType::U64, GgufType::U8, uint64_t(1) << 63}},
            {"t.i64", {GgufType::I64, GgufType::U8, int64_t(-1) << 62}},
            {"t.f64", {GgufType::F64, GgufType::U8, 0.1}},
            {"t.strings", gguf_strings({"a", "", "c d"})},
            {"t.f32s", gguf_f32_array({0.5f, -2.0f})},
            {"t.i32s", gguf_i32_array({-1, 7})},
            {"t.bools", {GgufType::Array, GgufType::Bool, std::vector<uint64_t>{1, 0}}},
            {"t.u8s", {GgufType::Array, GgufType::U8, std::vector<uint64_t>{}}},
        };
        const auto path = qbtest::scratch_dir() / "types.gguf";
        write_gguf(path, kvs, {f32_tensor("x", {4}, 1.0f)});
        const GgufFile file(path);
        QCOMPARE(file.metadata_keys().size(), kvs.size());
        for (size_t i = 0; i < kvs.size(); ++i) {
            const GgufValue& v = file.get(kvs[i].key);
            QCOMPARE(file.metadata_keys()[i], kvs[i].key);
            QCOMPARE(int(v.type), int(kvs[i].value.type));
            if (v.is_array()) QCOMPARE(int(v.elem_type), int(kvs[i].value.elem_type));
            QVERIFY2(v.value == kvs[i].value.value, kvs[i].key.c_str());
        }
        QCOMPARE(file.get("t.f32").as_double(), double(1e-5f));
    }

    void pads_every_tensor_to_general_alignment() {
        const std::vector<GgufKv> kvs = {{"general.alignment", gguf_u32(64)}};
        const std::vector<GgufTensorSpec> tensors = {f32_tensor("a", {3}, 1.0f), f32_tensor("b", {5, 2}, 10.0f)};
        const GgufLayout layout = gguf_layout(kvs, tensors);
        QCOMPARE(layout.alignment, uint64_t(64));
        QCOMPARE(layout.data_offset % 64, uint64_t(0));
        QCOMPARE(layout.offsets, (std::vector<uint64_t>{0, 64}));
        QCOMPARE(layout.file_size, layout.data_offset + 64 + 64);
        const auto path = qbtest::scratch_dir() / "aligned.gguf";
        QCOMPARE(write_gguf(path, kvs, tensors), layout.file_size);
        QCOMPARE(uint64_t(std::filesystem::file_size(path)), layout.file_size);
        const GgufFile file(path);
        QCOMPARE(file.tensor("b").dims, (std::vector<uint64_t>{5, 2}));
        float b9 = 0;
        std::memcpy(&b9, file.tensor("b").data.data() + 36, 4);
        QCOMPARE(b9, 19.0f);
    }

    void rejects_a_producer_giving_the_wrong_size_and_leaves_no_file() {
        const auto path = qbtest::scratch_dir() / "short.gguf";
        GgufTensorSpec bad{"w", {8}, 0, [] { return std::vector<uint8_t>(31); }};
        try {
            write_gguf(path, {}, {f32_tensor("ok", {4}, 0.0f), bad});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), path.string() + ": tensor 'w': producer gave 31 bytes, its type and shape need 32");
        }
        QVERIFY(!leftovers_beside(path));
    }

    void a_throwing_producer_or_a_cancellation_leaves_no_file() {
        const auto path = qbtest::scratch_dir() / "thrown.gguf";
        GgufTensorSpec throwing{"w", {8}, 0, []() -> std::vector<uint8_t> { throw Error("quantizer", "out of memory"); }};
        QVERIFY_THROWS_EXCEPTION(Error, write_gguf(path, {}, {f32_tensor("ok", {4}, 0.0f), throwing}));
        QVERIFY(!leftovers_beside(path));

        JobControl job;
        GgufTensorSpec cancelling{"c", {4}, 0, [&job] {
                                      job.cancel();
                                      return std::vector<uint8_t>(16);
                                  }};
        QVERIFY_THROWS_EXCEPTION(Cancelled, write_gguf(path, {}, {cancelling, f32_tensor("later", {4}, 0.0f)}, &job));
        QVERIFY(!leftovers_beside(path));
    }

    void rejects_values_that_do_not_fit_their_type_and_bad_rows() {
        const std::vector<GgufKv> too_big = {{"k", {GgufType::U8, GgufType::U8, uint64_t(256)}}};
        try {
            gguf_layout(too_big, {});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("gguf: metadata key 'k': value does not fit its declared type"));
        }
        const std::vector<GgufKv> mismatched = {{"s", {GgufType::String, GgufType::U8, uint64_t(1)}}};
        QVERIFY_THROWS_EXCEPTION(Error, gguf_layout(mismatched, {}));
        try {
            gguf_layout({}, {{"q", {172, 64}, 8, {}}});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("gguf: tensor 'q': row length 172 is not a multiple of Q8_0's block of 32"));
        }
        QVERIFY_THROWS_EXCEPTION(Error, gguf_layout({{"a", gguf_u32(1)}, {"a", gguf_u32(2)}}, {}));
    }
};

QTEST_GUILESS_MAIN(GgufWriterTest)
#include "tst_gguf_writer.moc"
