#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/analysis/calibration.h"
#include "core/analysis/sensitivity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/store/analysis_file.h"
#include "core/store/sha256.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;
namespace fs = std::filesystem;

namespace {

// stories260K calibrated on 4 chunks of 64 tokens, with a small sensitivity table, kept in memory.
struct Analysed {
    Model model = load_model(qbtest::stories260k("gguf"));
    Transformer net{model};
    TextFile calibration_text = read_text_file(qbtest::data_path("text/wiki.valid.tokens"));
    TextFile evaluation_text = read_text_file(qbtest::data_path("text/tinystories-snippet-30k.txt"));
    Calibration calibration;
    SensitivityResult sensitivity;
    std::vector<WeightStats> weights;

    Analysed() {
        const Tokenizer tokenizer = model_tokenizer(model);
        CalibrationOptions options;
        options.ctx = 64;
        options.tokens = 4 * 64;
        calibration = calibrate(net, evaluation_text_of(tokenizer, calibration_text), options);
        SensitivityOptions sensitivity_options;
        sensitivity_options.formats = {"q8_0", "int4_pc_asym_clip"};
        sensitivity_options.tensors = {"blk.0.attn_v", "blk.2.ffn_down", "output"};
        sensitivity_options.evaluation.max_chunks = 2;
        sensitivity = analyze_sensitivity(net, hessian_source(calibration), evaluation_text_of(tokenizer, evaluation_text),
                                          sensitivity_options);
        WeightStatsOptions weight_options;
        weight_options.format_errors = false;
        for (const char* tensor : {"blk.2.ffn_down", "output"}) weights.push_back(analyze_weights(model.tensor(tensor), weight_options));
    }
    static EvalText evaluation_text_of(const Tokenizer& tokenizer, const TextFile& text) {
        return qb::evaluation_text(tokenizer, text.text.substr(0, 40000));
    }

    // Writes everything to `path` the way the CLI does.
    void write(const fs::path& path, bool full_hessian) const {
        Hdf5Writer file(path);
        write_provenance(file, model, "quantbench-cli test");
        write_calibration(file, calibration.run, calibration_text);
        for (const ActivationStats& s : calibration.records) write_activations(file, s, full_hessian);
        for (const WeightStats& w : weights) write_weight_stats(file, w, calibration.run.record_of.at(w.tensor));
        file.commit();
    }
    void write_with_sensitivity(const fs::path& path, const fs::path& calibration_file) const {
        Hdf5Writer file(path);
        write_provenance(file, model, "quantbench-cli test sensitivity");
        write_sensitivity(file, sensitivity, evaluation_text, Hdf5Reader(calibration_file));
        file.commit();
    }
};

Analysed& analysed() {
    static Analysed a;
    return a;
}

bool h5py_available() { return qbtest::run_process("/usr/bin/python3", {"-c", "import h5py"}).exit_code == 0; }

// Runs a Python snippet with h5py on `file` (sys.argv[1]) and parses the JSON it prints.
nlohmann::json h5py(const std::string& script, const fs::path& file) {
    const auto r = qbtest::run_process("/usr/bin/python3", {"-c", "import h5py, json, sys, numpy\n" + script, file.string()});
    if (r.exit_code != 0) throw Error("h5py", r.err);
    return nlohmann::json::parse(r.out);
}

std::vector<fs::path> files_in(const fs::path& folder) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path().filename());
    return files;
}

}  // namespace

class AnalysisFileTest : public QObject {
    Q_OBJECT
private slots:
    void sha256_matches_the_standard_vectors_and_sha256sum() {
        Sha256 empty;
        QCOMPARE(empty.hex_digest(), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        Sha256 abc;
        const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 56 bytes: padding needs a second block
        abc.update({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
        QCOMPARE(abc.hex_digest(), std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        const fs::path model = qbtest::stories260k("gguf");
        const auto r = qbtest::run_process("/usr/bin/sha256sum", {model.string()});
        QCOMPARE(r.exit_code, 0);
        QCOMPARE(sha256_file(model), r.out.substr(0, 64));
    }

    void h5py_reads_the_documented_layout() {
        if (!h5py_available()) QSKIP("/usr/bin/python3 has no h5py (Debian: python3-h5py)");
        const fs::path path = qbtest::scratch_dir() / "layout.qbh5";
        analysed().write(path, true);
        const nlohmann::json doc = h5py(R"(
f = h5py.File(sys.argv[1], 'r')
a = f['activations/blk.2.ffn_down']
t = f['tensors/blk.2.ffn_down']
out = {
  'root': {k: (v.tolist() if hasattr(v, 'tolist') else v) for k, v in f.attrs.items()},
  'groups': sorted(f.keys()),
  'records': f['activations'].attrs['records'].tolist(),
  'tensors_of_qkv': f['activations/blk.0.attn_qkv'].attrs['tensors'].tolist(),
  'tokens': int(a.attrs['tokens']),
  'mean_sq': a['mean_sq'][:].tolist(),
  'mean_sq_units': a['mean_sq'].attrs['units'],
  'hessian_shape': list(a['hessian'].shape),
  'hessian_5_7': float(a['hessian'][5, 7]),
  'hessian_compression': a['hessian'].compression,
  'hessian_diagonal': a['hessian_diagonal'][:].tolist(),
  'histogram_counts': int(a['histogram/counts'][:].sum()) + int(a['histogram'].attrs['underflow']) + int(a['histogram'].attrs['overflow']),
  'histogram_edges': len(a['histogram/bin_edges']),
  'token_map_shape': list(a['token_map'].shape),
  'weight_edges': t['histogram/bin_edges'][:].tolist(),
  'weight_counts': t['histogram/counts'][:].tolist(),
  'row_absmax': t['row_absmax'][:].tolist(),
  'heat_map_shape': list(t['heat_map'].shape),
  'input_record': t.attrs['input_record'],
  'shape': t.attrs['shape'].tolist(),
  'kurtosis': float(t.attrs['excess_kurtosis']),
}
print(json.dumps(out))
)", path);
        const Analysed& a = analysed();
        const auto& root = doc["root"];
        QCOMPARE(root["format"].get<std::string>(), std::string("quantbench-analysis"));
        QCOMPARE(root["format_version"].get<int>(), 1);
        QCOMPARE(root["tool_version"].get<std::string>(), std::string(QB_VERSION));
        QCOMPARE(root["command_line"].get<std::string>(), std::string("quantbench-cli test"));
        QCOMPARE(root["model_files"], nlohmann::json({fs::absolute(qbtest::stories260k("gguf")).lexically_normal().string()}));
        QCOMPARE(root["model_sha256"][0].get<std::string>(), sha256_file(qbtest::stories260k("gguf")));
        QCOMPARE(root["calibration_text_sha256"].get<std::string>(), sha256_file(qbtest::data_path("text/wiki.valid.tokens")));
        QCOMPARE(root["calibration_tokens"].get<int64_t>(), int64_t(256));
        QCOMPARE(root["calibration_ctx"].get<int64_t>(), int64_t(64));
        QVERIFY(root["created"].get<std::string>().ends_with("Z"));
        QCOMPARE(doc["groups"], nlohmann::json({"activations", "tensors"}));
        QCOMPARE(doc["records"].get<std::vector<std::string>>(), a.calibration.run.records);
        QCOMPARE(doc["tensors_of_qkv"], nlohmann::json({"blk.0.attn_q", "blk.0.attn_k", "blk.0.attn_v"}));

        const ActivationStats& s = a.calibration.input_of("blk.2.ffn_down");
        QCOMPARE(doc["tokens"].get<int64_t>(), int64_t(256));
        QCOMPARE(doc["mean_sq"].get<std::vector<double>>(), s.mean_sq);
        QCOMPARE(doc["mean_sq_units"].get<std::string>(), std::string("activation^2"));
        QCOMPARE(doc["hessian_shape"], nlohmann::json({172, 172}));
        QCOMPARE(doc["hessian_5_7"].get<double>(), s.hessian->at(5, 7));
        QCOMPARE(doc["hessian_compression"].get<std::string>(), std::string("gzip"));
        QCOMPARE(doc["hessian_diagonal"].get<std::vector<double>>(), s.hessian->diagonal());
        QCOMPARE(doc["histogram_counts"].get<int64_t>(), int64_t(256 * 172));
        QCOMPARE(doc["histogram_edges"].get<size_t>(), s.histogram.edges.size());
        QCOMPARE(doc["token_map_shape"], nlohmann::json({172, 256}));

        const WeightStats& w = a.weights[0];
        QCOMPARE(doc["weight_edges"].get<std::vector<double>>(), w.histograms[0].edges);
        QCOMPARE(doc["weight_counts"].get<std::vector<uint64_t>>(), w.histograms[0].counts);
        QCOMPARE(doc["row_absmax"].get<std::vector<float>>(), w.channels.rows);
        QCOMPARE(doc["heat_map_shape"], nlohmann::json({w.heat_map.cell_rows(), w.heat_map.cell_cols()}));
        QCOMPARE(doc["input_record"].get<std::string>(), std::string("blk.2.ffn_down"));
        QCOMPARE(doc["shape"], nlohmann::json({64, 172}));
        QCOMPARE(doc["kurtosis"].get<double>(), w.moments.excess_kurtosis);
    }

    void h5py_reads_the_sensitivity_table() {
        if (!h5py_available()) QSKIP("/usr/bin/python3 has no h5py (Debian: python3-h5py)");
        const fs::path calibration = qbtest::scratch_dir() / "for-sensitivity.qbh5", path = qbtest::scratch_dir() / "sensitivity.qbh5";
        analysed().write(calibration, true);
        analysed().write_with_sensitivity(path, calibration);
        const nlohmann::json doc = h5py(R"(
f = h5py.File(sys.argv[1], 'r')
s = f['sensitivity']
out = {
  'tensor': [x.decode() if isinstance(x, bytes) else x for x in s['tensor'][:]],
  'format': [x.decode() if isinstance(x, bytes) else x for x in s['format'][:]],
  'hessian_error': s['hessian_error'][:].tolist(),
  'mean_kld': s['mean_kld'][:].tolist(),
  'kld_units': s['mean_kld'].attrs['units'],
  'bits_units': s['bits_per_weight'].attrs['units'],
  'spearman': float(s.attrs['spearman_hessian_error_vs_mean_kld']),
  'skipped': [x.decode() if isinstance(x, bytes) else x for x in s['skipped/problem'][:]],
  'base_ppl': float(s.attrs['base_ppl']),
  'root': {k: (v.tolist() if hasattr(v, 'tolist') else v) for k, v in f.attrs.items()},
}
print(json.dumps(out))
)", path);
        const SensitivityResult& r = analysed().sensitivity;
        QCOMPARE(doc["tensor"].size(), r.entries.size());
        for (size_t i = 0; i < r.entries.size(); ++i) {
            QCOMPARE(doc["tensor"][i].get<std::string>(), r.entries[i].tensor);
            QCOMPARE(doc["format"][i].get<std::string>(), r.entries[i].format);
            QCOMPARE(doc["hessian_error"][i].get<double>(), r.entries[i].hessian_error);
            QCOMPARE(doc["mean_kld"][i].get<double>(), r.entries[i].mean_kld);
        }
        QCOMPARE(doc["kld_units"].get<std::string>(), std::string("nats"));
        QCOMPARE(doc["bits_units"].get<std::string>(), std::string("bits"));
        QCOMPARE(doc["spearman"].get<double>(), r.spearman("hessian_error", "mean_kld"));
        QCOMPARE(doc["skipped"], nlohmann::json({"row length 172 is not a multiple of q8_0's block of 32"}));
        QCOMPARE(doc["base_ppl"].get<double>(), r.base_ppl);
        const auto& root = doc["root"];
        QCOMPARE(root["evaluation_text_sha256"].get<std::string>(), sha256_file(qbtest::data_path("text/tinystories-snippet-30k.txt")));
        QCOMPARE(root["evaluation_protocol"].get<std::string>(), std::string("llama.cpp"));
        QCOMPARE(root["calibration_file_sha256"].get<std::string>(), sha256_file(calibration));
        QCOMPARE(root["calibration_tokens"].get<int64_t>(), int64_t(256));  // copied from the calibration file
    }

    void reader_returns_what_was_written() {
        const fs::path path = qbtest::scratch_dir() / "round-trip.qbh5", calibration = qbtest::scratch_dir() / "round-trip-calibration.qbh5";
        const Analysed& a = analysed();
        a.write(calibration, true);
        const AnalysisFile file(calibration);
        QCOMPARE(file.activation_records(), a.calibration.run.records);
        QCOMPARE(file.tensors(), (std::vector<std::string>{"blk.2.ffn_down", "output"}));
        QVERIFY(file.has_full_hessians());
        const ActivationStats expected = a.calibration.input_of("blk.1.attn_q");
        const ActivationStats read = file.activations("blk.1.attn_qkv", true);
        QCOMPARE(read.tensors, expected.tensors);
        QCOMPARE(read.tokens, expected.tokens);
        QCOMPARE(read.hessian->values, expected.hessian->values);
        QCOMPARE(read.mean_abs, expected.mean_abs);
        QCOMPARE(read.abs_max, expected.abs_max);
        QCOMPARE(read.outlier_tokens, expected.outlier_tokens);
        QCOMPARE(read.histogram.counts, expected.histogram.counts);
        QCOMPARE(read.abs_histogram.edges, expected.abs_histogram.edges);
        QCOMPARE(read.token_map.cells, expected.token_map.cells);
        QCOMPARE(read.token_map.col_edges, expected.token_map.col_edges);
        QCOMPARE(read.moments.excess_kurtosis, expected.moments.excess_kurtosis);
        const WeightStats weights = file.weight_stats("output");
        QCOMPARE(weights.moments.mean, a.weights[1].moments.mean);
        QCOMPARE(weights.histograms[0].counts, a.weights[1].histograms[0].counts);
        QCOMPARE(weights.heat_map.cells, a.weights[1].heat_map.cells);
        QCOMPARE(weights.channels.cols, a.weights[1].channels.cols);
        QCOMPARE(file.input_record("output"), std::string("output"));
        QVERIFY(!file.sensitivity());

        a.write_with_sensitivity(path, calibration);
        const SensitivityResult r = *AnalysisFile(path).sensitivity();
        QCOMPARE(r.entries.size(), a.sensitivity.entries.size());
        QCOMPARE(r.entries.back().delta_ppl, a.sensitivity.entries.back().delta_ppl);
        QCOMPARE(r.entries.back().outlier_share, a.sensitivity.entries.back().outlier_share);
        QCOMPARE(r.correlations.size(), a.sensitivity.correlations.size());
        QCOMPARE(r.spearman("mse", "delta_ppl", "q8_0"), a.sensitivity.spearman("mse", "delta_ppl", "q8_0"));
        QCOMPARE(r.skipped.size(), size_t(1));
        QCOMPARE(r.eval_tokens, a.sensitivity.eval_tokens);

        // The Hessians come back from the file as the sensitivity command loads them.
        const HessianSource source = file.hessian_source();
        QCOMPARE(source.records.size(), a.calibration.records.size());
        QCOMPARE(source.load("blk.2.ffn_down").values, a.calibration.input_of("blk.2.ffn_down").hessian->values);
    }

    void a_file_without_full_hessians_says_so() {
        const fs::path path = qbtest::scratch_dir() / "diagonal-only.qbh5";
        analysed().write(path, false);
        const AnalysisFile file(path);
        QVERIFY(!file.has_full_hessians());
        QCOMPARE(error_of([&] { file.hessian_source().load("blk.0.attn_qkv"); }),
                 QString::fromStdString(path.string()) + ": has no full Hessian for blk.0.attn_qkv (run calibrate with --full-hessian)");
    }

    void failed_write_leaves_neither_a_file_nor_a_temporary() {
        const fs::path folder = qbtest::scratch_dir() / "atomic";
        fs::create_directories(folder);
        const fs::path target = folder / "out.qbh5";
        {
            Hdf5Writer file(target);
            file.set_attribute("/", "format", std::string("quantbench-analysis"));
            QCOMPARE(files_in(folder).size(), size_t(1));  // the temporary
            QVERIFY(files_in(folder)[0].string().starts_with("out.qbh5.tmp-"));
            const std::vector<double> values{1, 2, 3};
            QCOMPARE(error_of([&] { file.write_dataset<double>("/x", values, {2, 2}); }),
                     QString::fromStdString(target.string()) + ": dataset /x: shape does not match its 3 values");
        }  // destroyed without commit
        QVERIFY(files_in(folder).empty());

        std::ofstream(target) << "previous result";
        {
            Hdf5Writer file(target);
            file.set_attribute("/", "format", std::string("quantbench-analysis"));
        }
        QCOMPARE(qbtest::read_file(target), std::string("previous result"));  // replaced only by a complete file
        QCOMPARE(files_in(folder).size(), size_t(1));
        {
            Hdf5Writer file(target);
            file.set_attribute("/", "format", std::string("quantbench-analysis"));
            file.set_attribute("/", "format_version", int64_t(1));
            file.commit();
        }
        QCOMPARE(files_in(folder), std::vector<fs::path>{"out.qbh5"});
        QVERIFY(AnalysisFile(target).tensors().empty());
        QCOMPARE(fs::status(target).permissions() & fs::perms::others_read, fs::perms::others_read);  // not mkstemp's 0600
    }

    void rejects_files_that_are_not_analysis_files() {
        const fs::path text = qbtest::data_path("text/tinystories-snippet-30k.txt");
        QCOMPARE(error_of([&] { AnalysisFile{text}; }), QString::fromStdString(text.string()) + ": not an HDF5 file");
        QCOMPARE(error_of([] { AnalysisFile{"/nonexistent/a.qbh5"}; }), QString("/nonexistent/a.qbh5: no such file"));
        const fs::path other = qbtest::scratch_dir() / "other.h5";
        {
            Hdf5Writer file(other);
            file.write_strings("/names", {"a", "b"});
            file.commit();
        }
        QCOMPARE(error_of([&] { AnalysisFile{other}; }),
                 QString::fromStdString(other.string()) + ": not a Quantbench analysis file (no root attribute format = \"quantbench-analysis\")");
        QCOMPARE(Hdf5Reader(other).read_strings("/names"), (std::vector<std::string>{"a", "b"}));
        QCOMPARE(error_of([] { Hdf5Writer("/nonexistent/folder/out.qbh5"); }),
                 QString("/nonexistent/folder/out.qbh5: cannot create output: no such folder"));
    }

    void generic_api_writes_any_group_later_steps_need() {
        const fs::path path = qbtest::scratch_dir() / "generic.qbh5";
        {
            Hdf5Writer file(path);
            const std::vector<float> bits{4.5f, 8.5f};
            file.write_dataset<float>("/plans/mixed/bits", bits);
            file.set_attribute("/plans/mixed", "budget_bpw", 5.0);
            file.set_attribute("/plans/mixed/bits", "units", std::string("bits"));
            file.set_attribute("/plans/mixed", "formats", std::vector<std::string>{"q4_0", "q8_0"});
            const std::vector<int64_t> big(5000, 7);
            file.write_dataset<int64_t>("/evaluations/run1/counts", big, {50, 100});
            file.commit();
        }
        const Hdf5Reader file(path);
        QCOMPARE(file.children("/"), (std::vector<std::string>{"evaluations", "plans"}));
        QCOMPARE(file.read_dataset<double>("/plans/mixed/bits"), (std::vector<double>{4.5, 8.5}));
        QCOMPARE(number_attribute(file, "/plans/mixed", "budget_bpw"), 5.0);
        QCOMPARE(strings_attribute(file, "/plans/mixed", "formats"), (std::vector<std::string>{"q4_0", "q8_0"}));
        QCOMPARE(file.shape("/evaluations/run1/counts"), (std::vector<int64_t>{50, 100}));
        QCOMPARE(file.read_dataset<int64_t>("/evaluations/run1/counts"), std::vector<int64_t>(5000, 7));
        QCOMPARE(file.attribute_names("/plans/mixed"), (std::vector<std::string>{"budget_bpw", "formats"}));
        QCOMPARE(error_of([&] { string_attribute(file, "/plans/mixed", "budget_bpw"); }),
                 QString::fromStdString(path.string()) + ": /plans/mixed: attribute 'budget_bpw' is not a string");
    }
};

QTEST_GUILESS_MAIN(AnalysisFileTest)
#include "tst_analysis_file.moc"
