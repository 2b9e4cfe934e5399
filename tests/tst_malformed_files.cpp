// Damaged and hostile inputs: every reader must refuse them with a message naming the file and the
// exact problem, never crash. Damaged copies live in the scratch directory; shared data stays intact.
#include <QtTest>

#include <cstring>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/io/gguf_reader.h"
#include "core/io/llama2c_reader.h"
#include "core/io/safetensors_reader.h"
#include "core/io/safetensors_writer.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;
namespace fs = std::filesystem;

// Lets QCOMPARE print both messages when they differ.
namespace QTest {
template <>
inline char* toString(const std::string& s) {
    return qstrdup(s.c_str());
}
}  // namespace QTest

namespace {

std::vector<uint8_t> read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& path, std::span<const uint8_t> bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// A copy of `source` in the scratch directory, changed by `damage`.
fs::path damaged_copy(const fs::path& source, const std::string& name, const std::function<void(std::vector<uint8_t>&)>& damage) {
    std::vector<uint8_t> bytes = read_all(source);
    damage(bytes);
    const fs::path path = qbtest::scratch_dir() / name;
    write_all(path, bytes);
    return path;
}

fs::path stories_gguf() { return qbtest::stories260k("gguf"); }

// Offset of the tensor-info record of `name` in a GGUF file (its u64 name length).
size_t tensor_info_offset(const std::vector<uint8_t>& bytes, const std::string& name) {
    std::string needle(8, '\0');
    const uint64_t len = name.size();
    std::memcpy(needle.data(), &len, 8);
    needle += name;
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const size_t first = text.find(needle);
    if (first == std::string_view::npos) throw std::runtime_error("no tensor info for " + name);
    return first;
}

// Offsets of the type and data-offset fields of a 2-D tensor's info record.
size_t type_field(const std::vector<uint8_t>& bytes, const std::string& name, int n_dims) {
    return tensor_info_offset(bytes, name) + 8 + name.size() + 4 + 8 * size_t(n_dims);
}
size_t offset_field(const std::vector<uint8_t>& bytes, const std::string& name, int n_dims) {
    return type_field(bytes, name, n_dims) + 4;
}

// A safetensors file made by hand: header length (or an override), header text, `data_bytes` zero bytes.
fs::path raw_safetensors(const std::string& name, const std::string& header, size_t data_bytes,
                         std::optional<uint64_t> header_length = std::nullopt) {
    std::vector<uint8_t> bytes(8);
    const uint64_t len = header_length.value_or(header.size());
    std::memcpy(bytes.data(), &len, 8);
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.resize(bytes.size() + data_bytes);
    const fs::path path = qbtest::scratch_dir() / name;
    write_all(path, bytes);
    return path;
}

std::string safetensors_error(const std::string& name, const std::string& header, size_t data_bytes) {
    const fs::path path = raw_safetensors(name, header, data_bytes);
    return error_message([&] { SafetensorsFile f(path); });
}

// A copy of the stories260K HF folder whose config.json is edited by `edit` and whose tensors are
// filtered by `keep`.
fs::path edited_hf_folder(const std::string& name, const std::function<void(nlohmann::json&)>& edit,
                          const std::function<bool(const std::string&)>& keep = {}) {
    const fs::path dir = qbtest::scratch_dir() / name;
    fs::create_directories(dir);
    SafetensorsFile source(qbtest::data_path("models/stories260K/hf/model.safetensors"));
    std::vector<SafetensorsOutput> tensors;
    for (const auto& t : source.tensors())
        if (!keep || keep(t.name)) tensors.push_back({t.name, t.dtype, t.shape, t.data});
    write_safetensors(dir / "model.safetensors", tensors);
    nlohmann::json config = nlohmann::json::parse(read_all(qbtest::data_path("models/stories260K/hf/config.json")));
    edit(config);
    std::ofstream(dir / "config.json") << config.dump();
    return dir;
}

const std::string kSupported = "(supported: llama, mistral, qwen2, gpt2, gpt-neox)";

}  // namespace

class MalformedFilesTest : public QObject {
    Q_OBJECT
private slots:
    // ---- GGUF -------------------------------------------------------------------------------
    void rejects_truncated_gguf_with_clear_error_data() {
        QTest::addColumn<int>("cut");
        QTest::addColumn<QString>("message");
        QTest::newRow("inside magic") << 2 << "truncated: GGUF magic needs 4 bytes at offset 0, file has 2";
        QTest::newRow("inside tensor count") << 14 << "truncated: tensor count needs 8 bytes at offset 8, file has 14";
        QTest::newRow("before tensor table fits")
            << 600 << "truncated or corrupt: header claims 48 tensors, but only 576 bytes follow";
        QTest::newRow("inside vocabulary")
            << 5000 << "truncated: array string needs 8 bytes at offset 5000, file has 5000";
        QTest::newRow("inside tensor table")
            << 14200 << "truncated or corrupt: tensor name at offset 14192 claims 13 bytes, but only 0 follow";
        QTest::newRow("no data section") << 14245 << "truncated: tensor data section is missing";
        QTest::newRow("inside data")
            << 600000
            << "truncated: tensor 'blk.2.ffn_gate.weight' needs bytes 544256..588288 of the data section, which has 585728";
    }
    void rejects_truncated_gguf_with_clear_error() {
        QFETCH(int, cut);
        QFETCH(QString, message);
        const fs::path path = damaged_copy(stories_gguf(), "cut-" + std::to_string(cut) + ".gguf",
                                           [&](auto& b) { b.resize(size_t(cut)); });
        QCOMPARE(QString::fromStdString(error_message([&] { GgufFile f(path); })), QString::fromStdString(path.string()) + ": " + message);
        QCOMPARE(QString::fromStdString(error_message([&] { load_model(path); })), QString::fromStdString(path.string()) + ": " + message);
    }

    void rejects_gguf_claiming_two_to_the_sixty_tensors() {
        const fs::path path = damaged_copy(stories_gguf(), "huge-count.gguf", [](auto& b) { poke<uint64_t>(b, 8, uint64_t(1) << 60); });
        QCOMPARE(error_message([&] { GgufFile f(path); }),
                 path.string() + ": truncated or corrupt: header claims 1152921504606846976 tensors, but only 1185448 bytes follow");
    }

    void rejects_gguf_with_bad_magic() {
        const fs::path path = damaged_copy(stories_gguf(), "bad-magic.gguf", [](auto& b) { b[3] = 'X'; });
        QCOMPARE(error_message([&] { load_model(path); }), path.string() + ": not a GGUF file (bad magic)");
    }

    void rejects_unsupported_gguf_versions() {
        const fs::path v4 = damaged_copy(stories_gguf(), "v4.gguf", [](auto& b) { poke<uint32_t>(b, 4, 4); });
        QCOMPARE(error_message([&] { GgufFile f(v4); }), v4.string() + ": unsupported GGUF version 4 (supported: 2, 3)");
        const fs::path swapped = damaged_copy(stories_gguf(), "big-endian.gguf", [](auto& b) { poke<uint32_t>(b, 4, 0x03000000u); });
        QCOMPARE(error_message([&] { GgufFile f(swapped); }),
                 swapped.string() + ": unsupported GGUF version 50331648 (a big-endian file; only little-endian GGUF is supported)");
    }

    void rejects_unknown_ggml_type() {
        const fs::path path = damaged_copy(stories_gguf(), "bad-type.gguf",
                                           [](auto& b) { poke<uint32_t>(b, type_field(b, "blk.1.attn_k.weight", 2), 99); });
        QCOMPARE(error_message([&] { GgufFile f(path); }), path.string() + ": tensor 'blk.1.attn_k.weight' has unknown ggml type id 99");
    }

    void rejects_tensor_offset_past_end_of_file() {
        const fs::path path = damaged_copy(stories_gguf(), "far-offset.gguf", [](auto& b) {
            poke<uint64_t>(b, offset_field(b, "output.weight", 2), uint64_t(1) << 40);
        });
        QCOMPARE(error_message([&] { GgufFile f(path); }),
                 path.string() + ": truncated: tensor 'output.weight' needs bytes 1099511627776..1099511758848 of the data "
                                 "section, which has 1171200");
    }

    void rejects_unaligned_tensor_offset() {
        const fs::path path = damaged_copy(stories_gguf(), "unaligned.gguf", [](auto& b) {
            poke<uint64_t>(b, offset_field(b, "output.weight", 2), 1040130);
        });
        QCOMPARE(error_message([&] { GgufFile f(path); }), path.string() + ": tensor 'output.weight' offset 1040130 is not aligned to 32");
    }

    void rejects_overlapping_tensors() {
        const fs::path path = damaged_copy(stories_gguf(), "overlap.gguf", [](auto& b) {
            poke<uint64_t>(b, offset_field(b, "blk.0.attn_norm.weight", 1), 1024);
        });
        QCOMPARE(error_message([&] { GgufFile f(path); }),
                 path.string() + ": tensors 'token_embd.weight' and 'blk.0.attn_norm.weight' overlap (bytes 0..131072 and "
                                 "1024..1280 of the data section)");
    }

    void rejects_duplicate_tensor_names() {
        const fs::path path = damaged_copy(stories_gguf(), "duplicate.gguf", [](auto& b) {
            const size_t at = tensor_info_offset(b, "blk.0.attn_k.weight") + 8;
            b[at + 11] = 'q';  // blk.0.attn_k.weight -> blk.0.attn_q.weight
        });
        QCOMPARE(error_message([&] { GgufFile f(path); }), path.string() + ": duplicate tensor name 'blk.0.attn_q.weight'");
    }

    void rejects_gguf_of_unknown_architecture() {
        const fs::path path = damaged_copy(stories_gguf(), "mamba.gguf", [](auto& b) { std::memcpy(b.data() + 64, "mamba", 5); });
        QCOMPARE(error_message([&] { load_model(path); }), path.string() + ": unknown architecture 'mamba' " + kSupported);
    }

    // ---- safetensors ---------------------------------------------------------------------------
    void rejects_safetensors_header_length_past_end_of_file() {
        const fs::path path = raw_safetensors("long-header.safetensors", "{}", 20, 1000);
        QCOMPARE(error_message([&] { SafetensorsFile f(path); }),
                 path.string() + ": header length 1000 runs past the end of the file (30 bytes)");
        const fs::path absurd = raw_safetensors("absurd-header.safetensors", "{}", 20, uint64_t(1) << 62);
        QCOMPARE(error_message([&] { SafetensorsFile f(absurd); }),
                 absurd.string() + ": header length 4611686018427387904 exceeds the limit of 100000000 bytes");
        const fs::path tiny = qbtest::scratch_dir() / "tiny.safetensors";
        write_all(tiny, std::vector<uint8_t>{1, 2, 3});
        QCOMPARE(error_message([&] { load_model(tiny); }).substr(0, tiny.string().size()), tiny.string());
        QCOMPARE(error_message([&] { SafetensorsFile f(tiny); }),
                 tiny.string() + ": truncated: header length needs 8 bytes at offset 0, file has 3");
    }

    void rejects_invalid_json_header() {
        const std::string header = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";  // one brace short
        const fs::path path = raw_safetensors("bad-json.safetensors", header, 8);
        QCOMPARE(error_message([&] { SafetensorsFile f(path); }), path.string() + ": header is not valid JSON (syntax error at byte 61)");
        QCOMPARE(safetensors_error("array.safetensors", "[1, 2]", 0), (qbtest::scratch_dir() / "array.safetensors").string() +
                                                                           ": header is not a JSON object");
    }

    void rejects_json_number_out_of_range() {  // found by fuzz_safetensors: nlohmann throws out_of_range, not parse_error
        QCOMPARE(safetensors_error("1e999.safetensors", R"({"w": {"dtype": "F32", "shape": [1e999], "data_offsets": [0, 8]}})", 8),
                 (qbtest::scratch_dir() / "1e999.safetensors").string() + ": header is not valid JSON (a number is out of range)");
        const fs::path dir = qbtest::scratch_dir() / "config-1e999";
        fs::create_directories(dir);
        fs::copy_file(qbtest::data_path("models/stories260K/hf/model.safetensors"), dir / "model.safetensors");
        std::ofstream(dir / "config.json") << R"({"model_type": "llama", "hidden_size": 450560e494592})";
        QCOMPARE(error_message([&] { load_model(dir); }),
                 (dir / "config.json").string() + ": file is not valid JSON (a number is out of range)");
    }

    void rejects_non_utf8_key() {
        const std::string header = "{\"w\xff\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}";
        QCOMPARE(safetensors_error("latin1.safetensors", header, 8),
                 (qbtest::scratch_dir() / "latin1.safetensors").string() + ": header is not valid UTF-8 (byte 4)");
    }

    void rejects_bad_data_offsets() {
        const std::string dir = qbtest::scratch_dir().string() + "/";
        QCOMPARE(safetensors_error("range.safetensors", R"({"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}})", 16),
                 dir + "range.safetensors: tensor 'w': data_offsets [0, 4096] run past the end of the data (16 bytes)");
        QCOMPARE(safetensors_error("reversed.safetensors", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 16),
                 dir + "reversed.safetensors: tensor 'w': data_offsets [8, 0] are reversed");
        QCOMPARE(safetensors_error("negative.safetensors", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})", 16),
                 dir + "negative.safetensors: tensor 'w': 'data_offsets' is missing or not two byte offsets");
        QCOMPARE(safetensors_error("overlap.safetensors",
                                   R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                                   16),
                 dir + "overlap.safetensors: tensors 'a' and 'b' overlap (bytes 0..16 and 8..16)");
    }

    void rejects_size_shape_mismatch() {
        QCOMPARE(safetensors_error("mismatch.safetensors", R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 16),
                 qbtest::scratch_dir().string() +
                     "/mismatch.safetensors: tensor 'w': data_offsets [0, 12] hold 12 bytes, but shape [2, 2] of F32 needs 16");
        QCOMPARE(safetensors_error("huge-shape.safetensors",
                                   R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})", 16),
                 qbtest::scratch_dir().string() + "/huge-shape.safetensors: tensor 'w' has an impossible shape");
    }

    void rejects_unknown_and_unsupported_dtypes() {
        const std::string dir = qbtest::scratch_dir().string() + "/";
        QCOMPARE(safetensors_error("f7.safetensors", R"({"w": {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]}})", 8),
                 dir + "f7.safetensors: tensor 'w' has unknown dtype 'F7'");
        QCOMPARE(safetensors_error("bool.safetensors", R"({"w": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})", 8),
                 dir + "bool.safetensors: tensor 'w' has dtype BOOL, which Quantbench cannot read");
    }

    void rejects_duplicate_names_and_bad_metadata() {
        const std::string dir = qbtest::scratch_dir().string() + "/";
        QCOMPARE(safetensors_error("twice.safetensors",
                                   R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                       "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                                   8),
                 dir + "twice.safetensors: header has the key 'w' twice");
        QCOMPARE(safetensors_error("meta.safetensors", R"({"__metadata__": {"epoch": 3}})", 0),
                 dir + "meta.safetensors: __metadata__ must map names to strings");
    }

    void rejects_missing_or_incomplete_shards() {
        const fs::path dir = qbtest::scratch_dir() / "missing-shard";
        fs::create_directories(dir);
        const std::vector<float> one = {1.0f};
        const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(one.data()), 4);
        write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", "F32", {1}, bytes}});
        const fs::path index = dir / "model.safetensors.index.json";
        write_safetensors_index(index, {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}}, 8);
        QCOMPARE(error_message([&] { SafetensorsSet s(index); }),
                 index.string() + ": shard 'model-00002-of-00002.safetensors' (for tensor 'b') does not exist");
        write_safetensors_index(index, {{"a", "model-00001-of-00002.safetensors"}, {"c", "model-00001-of-00002.safetensors"}}, 8);
        QCOMPARE(error_message([&] { SafetensorsSet s(index); }),
                 index.string() + ": tensor 'c' is listed in shard 'model-00001-of-00002.safetensors', which does not contain it");
        write_safetensors_index(index, {{"a", "../../etc/passwd"}}, 8);
        QCOMPARE(error_message([&] { SafetensorsSet s(index); }),
                 index.string() + ": shard '../../etc/passwd' (for tensor 'a') is not a file name beside the index");
    }

    // ---- Hugging Face folders ------------------------------------------------------------------
    void rejects_safetensors_without_config_json() {
        const fs::path dir = qbtest::scratch_dir() / "no-config";
        fs::create_directories(dir);
        const fs::path file = dir / "model.safetensors";
        fs::copy_file(qbtest::data_path("models/stories260K/hf/model.safetensors"), file, fs::copy_options::overwrite_existing);
        QCOMPARE(error_message([&] { load_model(file); }),
                 file.string() + ": no config.json beside the model (it states the architecture and hyper-parameters)");
        QCOMPARE(error_message([&] { load_model(dir); }),
                 file.string() + ": no config.json beside the model (it states the architecture and hyper-parameters)");
    }

    void rejects_unknown_architecture_in_config() {
        const fs::path dir = edited_hf_folder("falcon", [](nlohmann::json& c) {
            c["model_type"] = "falcon";
            c["architectures"] = {"FalconForCausalLM"};
        });
        QCOMPARE(error_message([&] { load_model(dir); }), (dir / "config.json").string() + ": unknown architecture 'falcon' " + kSupported);
    }

    void rejects_config_without_head_count() {
        const fs::path dir = edited_hf_folder("no-heads", [](nlohmann::json& c) { c.erase("num_attention_heads"); });
        QCOMPARE(error_message([&] { load_model(dir); }),
                 (dir / "model.safetensors").string() + ": missing or invalid hyper-parameter: attention heads");
    }

    void rejects_config_that_contradicts_tensor_shapes() {
        const fs::path dir = edited_hf_folder("wrong-ff", [](nlohmann::json& c) { c["intermediate_size"] = 100; });
        QCOMPARE(error_message([&] { load_model(dir); }),
                 (dir / "model.safetensors").string() + ": tensor 'model.layers.0.mlp.gate_proj.weight' (blk.0.ffn_gate) has "
                                                        "shape [172, 64], but the hyper-parameters give [100, 64]");
    }

    void rejects_model_missing_a_tensor() {
        const fs::path dir = edited_hf_folder("missing-up", [](nlohmann::json&) {},
                                              [](const std::string& name) { return name != "model.layers.2.mlp.up_proj.weight"; });
        QCOMPARE(error_message([&] { load_model(dir); }),
                 (dir / "model.safetensors").string() + ": missing tensor 'model.layers.2.mlp.up_proj.weight' (blk.2.ffn_up)");
    }

    void rejects_tensor_foreign_to_the_architecture() {
        const fs::path dir = edited_hf_folder("as-gpt2", [](nlohmann::json& c) { c["model_type"] = "gpt2"; });
        QCOMPARE(error_message([&] { load_model(dir); }),
                 (dir / "model.safetensors").string() + ": tensor 'model.embed_tokens.weight' is not part of a gpt2 model");
    }

    // ---- llama2.c ------------------------------------------------------------------------------
    void rejects_truncated_llama2c_checkpoint() {
        const fs::path path = damaged_copy(qbtest::stories260k("llama2c"), "cut.bin", [](auto& b) { b.resize(1000000); });
        QCOMPARE(error_message([&] { load_model(path); }),
                 path.string() + ": file has 1000000 bytes, but its llama2.c v0 header (dim 64, 5 layers, vocab 512) implies 1056540");
    }

    void rejects_llama2c_header_out_of_range() {
        const fs::path path = damaged_copy(qbtest::stories260k("llama2c"), "neg-layers.bin", [](auto& b) { poke<int32_t>(b, 8, -3); });
        QCOMPARE(error_message([&] { Llama2cFile f(path); }), path.string() + ": header value n_layers = -3 is out of range (1..4096)");
        const fs::path heads = damaged_copy(qbtest::stories260k("llama2c"), "odd-heads.bin", [](auto& b) { poke<int32_t>(b, 12, 3); });
        QCOMPARE(error_message([&] { Llama2cFile f(heads); }), heads.string() + ": header value n_kv_heads = 4 is out of range (1..3)");
    }

    void rejects_llama2c_version_2() {
        std::vector<uint8_t> bytes(256);
        poke<uint32_t>(bytes, 0, 0x616b3432);
        poke<int32_t>(bytes, 4, 2);
        const fs::path path = qbtest::scratch_dir() / "v2.bin";
        write_all(path, bytes);
        QCOMPARE(error_message([&] { load_model(path); }),
                 path.string() + ": llama2.c version 2 checkpoints (int8 groups) are not supported; export version 0 or 1");
    }

    // ---- dispatch ------------------------------------------------------------------------------
    void rejects_missing_paths_and_unknown_files() {
        const fs::path missing = qbtest::scratch_dir() / "nothing-here.gguf";
        QCOMPARE(error_message([&] { load_model(missing); }), missing.string() + ": no such file or folder");
        const fs::path text = qbtest::scratch_dir() / "notes.txt";
        std::ofstream(text) << "hello";
        QCOMPARE(error_message([&] { load_model(text); }),
                 text.string() + ": not a model file Quantbench knows (GGUF, .safetensors, model.safetensors.index.json, "
                                 "llama2.c .bin, or a folder holding them)");
        const fs::path empty_dir = qbtest::scratch_dir() / "empty-folder";
        fs::create_directories(empty_dir);
        QCOMPARE(error_message([&] { load_model(empty_dir); }),
                 empty_dir.string() + ": no model.safetensors, model.safetensors.index.json or .gguf file in the folder");
    }
};

QTEST_GUILESS_MAIN(MalformedFilesTest)
#include "tst_malformed_files.moc"
