#include "core/store/analysis_file.h"

#include <cmath>
#include <set>

#include "core/store/sha256.h"
#include "core/util/clock.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr const char* kFormatName = "quantbench-analysis";

std::string absolute_path(const std::filesystem::path& path) { return std::filesystem::absolute(path).lexically_normal().string(); }

std::string tensor_group(const std::string& tensor) { return "/tensors/" + tensor; }
std::string record_group(const std::string& record) { return "/activations/" + record; }

template <typename T>
void write_values(Hdf5Writer& file, const std::string& path, const std::vector<T>& values, const std::string& units,
                  std::vector<int64_t> dims = {}) {
    file.write_dataset<T>(path, std::span<const T>(values), std::move(dims));
    file.set_attribute(path, "units", units);
}

void write_histogram(Hdf5Writer& file, const std::string& group, const Histogram& h, const std::string& value_units) {
    write_values(file, group + "/counts", h.counts, "count");
    write_values(file, group + "/bin_edges", h.edges, value_units);
    file.set_attribute(group, "scale", std::string(histogram_scale_name(h.scale)));
    file.set_attribute(group, "underflow", int64_t(h.underflow));
    file.set_attribute(group, "overflow", int64_t(h.overflow));
    file.set_attribute(group, "log_counts", int64_t(h.log_counts));
}

Histogram read_histogram(const Hdf5Reader& file, const std::string& group) {
    Histogram h;
    h.scale = string_attribute(file, group, "scale") == histogram_scale_name(HistogramScale::LogAbs) ? HistogramScale::LogAbs
                                                                                                    : HistogramScale::Linear;
    h.counts = file.read_dataset<uint64_t>(group + "/counts");
    h.edges = file.read_dataset<double>(group + "/bin_edges");
    h.underflow = uint64_t(integer_attribute(file, group, "underflow"));
    h.overflow = uint64_t(integer_attribute(file, group, "overflow"));
    h.log_counts = integer_attribute(file, group, "log_counts") != 0;
    return h;
}

// The map at `path`, its edges at path + "_" + <rows_name|cols_name> + "_edges".
void write_heat_map(Hdf5Writer& file, const std::string& path, const HeatMap& map, const std::string& rows_name,
                    const std::string& cols_name, const std::string& units) {
    write_values(file, path, map.cells, units, {map.cell_rows(), map.cell_cols()});
    file.set_attribute(path, "reduce", std::string(heat_map_reduce_name(map.reduce)));
    write_values(file, path + "_" + rows_name + "_edges", map.row_edges, "index");
    write_values(file, path + "_" + cols_name + "_edges", map.col_edges, "index");
}

HeatMap read_heat_map(const Hdf5Reader& file, const std::string& path, const std::string& rows_name, const std::string& cols_name) {
    HeatMap map;
    map.reduce = string_attribute(file, path, "reduce") == heat_map_reduce_name(HeatMapReduce::Mean) ? HeatMapReduce::Mean
                                                                                                     : HeatMapReduce::Max;
    map.row_edges = file.read_dataset<int64_t>(path + "_" + rows_name + "_edges");
    map.col_edges = file.read_dataset<int64_t>(path + "_" + cols_name + "_edges");
    map.cells = file.read_dataset<float>(path);
    return map;
}

void write_moments(Hdf5Writer& file, const std::string& group, const Moments& m) {
    file.set_attribute(group, "count", m.count);
    for (const auto& [name, value] : {std::pair<const char*, double>{"mean", m.mean}, {"std", m.std}, {"min", m.min}, {"max", m.max},
                                      {"skewness", m.skewness}, {"excess_kurtosis", m.excess_kurtosis}})
        file.set_attribute(group, name, value);
}

Moments read_moments(const Hdf5Reader& file, const std::string& group) {
    Moments m;
    m.count = integer_attribute(file, group, "count");
    m.mean = number_attribute(file, group, "mean");
    m.std = number_attribute(file, group, "std");
    m.variance = m.std * m.std;
    m.min = number_attribute(file, group, "min");
    m.max = number_attribute(file, group, "max");
    m.skewness = number_attribute(file, group, "skewness");
    m.excess_kurtosis = number_attribute(file, group, "excess_kurtosis");
    return m;
}

// Sensitivity columns and their units, in dataset order.
struct Column {
    const char* name;
    double SensitivityEntry::*field;
    const char* units;
};
constexpr Column kColumns[] = {
    {"bits_per_weight", &SensitivityEntry::bits_per_weight, "bits"},
    {"hessian_error", &SensitivityEntry::hessian_error, "output^2 per token"},
    {"hawq", &SensitivityEntry::hawq, "output^2 per token"},
    {"mse", &SensitivityEntry::mse, "weight^2"},
    {"kurtosis", &SensitivityEntry::kurtosis, "1"},
    {"outlier_share", &SensitivityEntry::outlier_share, "fraction"},
    {"delta_ppl", &SensitivityEntry::delta_ppl, "perplexity"},
    {"mean_kld", &SensitivityEntry::mean_kld, "nats"},
};

template <typename Row, typename Get>
std::vector<std::string> column_of(const std::vector<Row>& rows, Get get) {
    std::vector<std::string> column;
    for (const Row& r : rows) column.push_back(get(r));
    return column;
}

}  // namespace

std::vector<FileDigest> model_file_digests(const Model& model) {
    namespace fs = std::filesystem;
    std::set<fs::path> files;
    auto add = [&](const fs::path& p) {
        if (!p.empty() && fs::is_regular_file(p)) files.insert(fs::absolute(p).lexically_normal());
    };
    add(model.source_path);
    if (fs::is_directory(model.source_path)) add(model.source_path / "config.json");
    for (const TensorView& t : model.tensors) add(t.source_file);
    add(model.tokenizer.path);
    std::vector<FileDigest> digests;
    for (const fs::path& p : files) digests.push_back({p.string(), sha256_file(p)});
    return digests;
}

void write_provenance(Hdf5Writer& file, const Model& model, const std::string& command_line) {
    file.set_attribute("/", "format", std::string(kFormatName));
    file.set_attribute("/", "format_version", kAnalysisFormatVersion);
    file.set_attribute("/", "tool", std::string("quantbench"));
    file.set_attribute("/", "tool_version", std::string(QB_VERSION));
    file.set_attribute("/", "created", utc_now());
    file.set_attribute("/", "command_line", command_line);
    file.set_attribute("/", "model_path", absolute_path(model.source_path));
    file.set_attribute("/", "model_architecture", model.architecture);
    const std::vector<FileDigest> digests = model_file_digests(model);
    file.set_attribute("/", "model_files", column_of(digests, [](const FileDigest& d) { return d.path; }));
    file.set_attribute("/", "model_sha256", column_of(digests, [](const FileDigest& d) { return d.sha256; }));
}

void write_calibration(Hdf5Writer& file, const CalibrationRun& run, const TextFile& text) {
    file.set_attribute("/", "calibration_text", absolute_path(text.path));
    file.set_attribute("/", "calibration_text_sha256", text.sha256);
    file.set_attribute("/", "calibration_tokens", run.tokens);
    file.set_attribute("/", "calibration_ctx", run.ctx);
    file.set_attribute("/", "calibration_chunks", run.chunks);
    file.set_attribute("/", "calibration_protocol",
                       std::string("consecutive chunks of ctx tokens, BOS first, every position counted"));
    file.create_group("/activations");
    file.set_attribute("/activations", "records", run.records);
    file.set_attribute("/activations", "tokens", run.tokens);
    file.set_attribute("/activations", "ctx", run.ctx);
    file.set_attribute("/activations", "chunks", run.chunks);
    file.set_attribute("/activations", "passes", int64_t(run.passes));
    file.set_attribute("/activations", "outlier_threshold", run.outlier_threshold);
    file.set_attribute("/activations", "hessian_normalisation", std::string("X^T X / tokens"));
}

void write_activations(Hdf5Writer& file, const ActivationStats& s, bool full_hessian) {
    const std::string group = record_group(s.record);
    file.create_group(group);
    file.set_attribute(group, "tensors", s.tensors);
    file.set_attribute(group, "channels", s.channels);
    file.set_attribute(group, "tokens", s.tokens);
    file.set_attribute(group, "outlier_channels", s.outlier_channels);
    file.set_attribute(group, "hessian_trace", s.hessian_trace);
    write_moments(file, group, s.moments);
    write_histogram(file, group + "/histogram", s.histogram, "activation");
    write_histogram(file, group + "/abs_histogram", s.abs_histogram, "|activation|");
    write_values(file, group + "/channel_absmax", s.abs_max, "|activation|");
    write_values(file, group + "/mean_abs", s.mean_abs, "|activation|");
    write_values(file, group + "/mean_sq", s.mean_sq, "activation^2");
    write_values(file, group + "/outlier_tokens", s.outlier_tokens, "count");
    write_heat_map(file, group + "/token_map", s.token_map, "channel", "token", "|activation|");
    write_values(file, group + "/hessian_diagonal", s.hessian ? s.hessian->diagonal() : s.mean_sq, "activation^2");
    if (full_hessian && s.hessian) write_values(file, group + "/hessian", s.hessian->values, "activation^2", {s.channels, s.channels});
}

void write_weight_stats(Hdf5Writer& file, const WeightStats& s, const std::string& input_record) {
    const std::string group = tensor_group(s.tensor);
    file.create_group(group);
    file.set_attribute(group, "shape", std::vector<int64_t>{s.rows, s.cols});
    file.set_attribute(group, "storage_format", s.storage_format);
    file.set_attribute(group, "input_record", input_record);
    file.set_attribute(group, "nan_count", s.nan_count);
    file.set_attribute(group, "inf_count", s.inf_count);
    write_moments(file, group, s.moments);
    std::vector<double> sigma, fraction;
    for (const TailFraction& t : s.tails) {
        sigma.push_back(t.k);
        fraction.push_back(t.fraction);
    }
    file.set_attribute(group, "tail_sigma", sigma);
    file.set_attribute(group, "tail_fraction", fraction);
    if (!s.histograms.empty()) write_histogram(file, group + "/histogram", s.histograms.front(), "weight");
    write_values(file, group + "/row_absmax", s.channels.rows, "|weight|");
    write_values(file, group + "/col_absmax", s.channels.cols, "|weight|");
    write_heat_map(file, group + "/heat_map", s.heat_map, "row", "col", "|weight|");
}

void write_tensor_statistics(Hdf5Writer& file, const Model& model, const std::vector<InputRecord>& records,
                             JobControl* control, int threads) {
    WeightStatsOptions options;
    options.format_errors = false;
    int64_t count = 0, done = 0;
    for (const InputRecord& r : records) count += int64_t(r.tensors.size());
    for (const InputRecord& r : records)
        for (const std::string& tensor : r.tensors) {
            if (control) control->step(done++, count, "statistics of " + tensor);
            const TensorView& view = model.tensor(tensor);
            write_weight_stats(file, analyze_weights(view, options, nullptr, threads), r.name);
            view.evict_pages();
        }
}

void write_sensitivity(Hdf5Writer& file, const SensitivityResult& r, const TextFile& evaluation_text,
                       const Hdf5Reader& calibration_file) {
    file.set_attribute("/", "evaluation_text", absolute_path(evaluation_text.path));
    file.set_attribute("/", "evaluation_text_sha256", evaluation_text.sha256);
    file.set_attribute("/", "evaluation_protocol", std::string(protocol_name(r.protocol)));
    file.set_attribute("/", "evaluation_ctx", r.eval_ctx);
    file.set_attribute("/", "evaluation_chunks", r.eval_chunks);
    file.set_attribute("/", "evaluation_tokens", r.eval_tokens);
    file.set_attribute("/", "calibration_file", absolute_path(calibration_file.path()));
    file.set_attribute("/", "calibration_file_sha256", sha256_file(calibration_file.path()));
    for (const std::string& name : calibration_file.attribute_names("/"))
        if (name.starts_with("calibration_") && name != "calibration_file" && name != "calibration_file_sha256")
            file.set_attribute("/", name, calibration_file.attribute("/", name));

    file.create_group("/sensitivity");
    file.write_strings("/sensitivity/tensor", column_of(r.entries, [](const SensitivityEntry& e) { return e.tensor; }));
    file.write_strings("/sensitivity/format", column_of(r.entries, [](const SensitivityEntry& e) { return e.format; }));
    for (const Column& c : kColumns) {
        std::vector<double> values;
        for (const SensitivityEntry& e : r.entries) values.push_back(e.*c.field);
        write_values(file, std::string("/sensitivity/") + c.name, values, c.units);
    }
    file.set_attribute("/sensitivity", "base_ppl", r.base_ppl);
    file.set_attribute("/sensitivity", "importance", std::string(r.importance ? "mean_sq" : "none"));
    file.set_attribute("/sensitivity", "evaluation_protocol", std::string(protocol_name(r.protocol)));
    file.set_attribute("/sensitivity", "evaluation_ctx", r.eval_ctx);
    file.set_attribute("/sensitivity", "evaluation_chunks", r.eval_chunks);
    file.set_attribute("/sensitivity", "evaluation_tokens", r.eval_tokens);
    std::vector<double> rho;
    std::vector<int64_t> count;
    for (const RankCorrelation& c : r.correlations) {
        rho.push_back(c.rho);
        count.push_back(c.count);
        if (c.format.empty()) file.set_attribute("/sensitivity", "spearman_" + c.estimate + "_vs_" + c.target, c.rho);
    }
    file.write_strings("/sensitivity/spearman/estimate", column_of(r.correlations, [](const RankCorrelation& c) { return c.estimate; }));
    file.write_strings("/sensitivity/spearman/target", column_of(r.correlations, [](const RankCorrelation& c) { return c.target; }));
    file.write_strings("/sensitivity/spearman/format", column_of(r.correlations, [](const RankCorrelation& c) { return c.format; }));
    write_values(file, "/sensitivity/spearman/rho", rho, "1");
    write_values(file, "/sensitivity/spearman/count", count, "count");
    file.write_strings("/sensitivity/skipped/tensor", column_of(r.skipped, [](const SkippedFormat& s) { return s.tensor; }));
    file.write_strings("/sensitivity/skipped/format", column_of(r.skipped, [](const SkippedFormat& s) { return s.format; }));
    file.write_strings("/sensitivity/skipped/problem", column_of(r.skipped, [](const SkippedFormat& s) { return s.problem; }));
}

AnalysisFile::AnalysisFile(const std::filesystem::path& path) : reader_(path) {
    if (!reader_.has_attribute("/", "format") || string_attribute(reader_, "/", "format") != kFormatName)
        throw Error(path.string(), std::string("not a Quantbench analysis file (no root attribute format = \"") + kFormatName + "\")");
    const int64_t version = integer_attribute(reader_, "/", "format_version");
    if (version > kAnalysisFormatVersion)
        throw Error(path.string(), "format_version " + std::to_string(version) + " is newer than this build reads (" +
                                       std::to_string(kAnalysisFormatVersion) + ")");
}

std::map<std::string, AttributeValue> AnalysisFile::provenance() const {
    std::map<std::string, AttributeValue> attributes;
    for (const std::string& name : reader_.attribute_names("/")) attributes.emplace(name, reader_.attribute("/", name));
    return attributes;
}

std::vector<std::string> AnalysisFile::tensors() const {
    return reader_.exists("/tensors") ? reader_.children("/tensors") : std::vector<std::string>{};
}

std::vector<std::string> AnalysisFile::activation_records() const {
    return reader_.exists("/activations") ? strings_attribute(reader_, "/activations", "records") : std::vector<std::string>{};
}

bool AnalysisFile::has_full_hessians() const {
    const std::vector<std::string> records = activation_records();
    return !records.empty() && std::all_of(records.begin(), records.end(), [&](const std::string& r) {
        return reader_.exists(record_group(r) + "/hessian");
    });
}

WeightStats AnalysisFile::weight_stats(const std::string& tensor) const {
    const std::string group = tensor_group(tensor);
    if (!reader_.exists(group)) throw Error(reader_.path().string(), "no statistics of tensor '" + tensor + "'");
    WeightStats s;
    s.tensor = tensor;
    s.storage_format = string_attribute(reader_, group, "storage_format");
    const std::vector<int64_t> shape = integers_attribute(reader_, group, "shape");
    if (shape.size() != 2) throw Error(reader_.path().string(), group + ": attribute 'shape' is not [rows, cols]");
    s.rows = shape[0];
    s.cols = shape[1];
    s.moments = read_moments(reader_, group);
    s.nan_count = integer_attribute(reader_, group, "nan_count");
    s.inf_count = integer_attribute(reader_, group, "inf_count");
    const std::vector<double> sigma = numbers_attribute(reader_, group, "tail_sigma");
    const std::vector<double> fraction = numbers_attribute(reader_, group, "tail_fraction");
    for (size_t i = 0; i < sigma.size() && i < fraction.size(); ++i)
        s.tails.push_back({sigma[i], sigma[i] * s.moments.std, uint64_t(std::llround(fraction[i] * double(s.moments.count))), fraction[i]});
    if (reader_.exists(group + "/histogram")) s.histograms.push_back(read_histogram(reader_, group + "/histogram"));
    s.channels.rows = reader_.read_dataset<float>(group + "/row_absmax");
    s.channels.cols = reader_.read_dataset<float>(group + "/col_absmax");
    s.heat_map = read_heat_map(reader_, group + "/heat_map", "row", "col");
    return s;
}

std::string AnalysisFile::input_record(const std::string& tensor) const {
    return string_attribute(reader_, tensor_group(tensor), "input_record");
}

ActivationStats AnalysisFile::activations(const std::string& record, bool with_hessian) const {
    const std::string group = record_group(record);
    if (!reader_.exists(group)) throw Error(reader_.path().string(), "no activation statistics of '" + record + "'");
    ActivationStats s;
    s.record = record;
    s.tensors = strings_attribute(reader_, group, "tensors");
    s.channels = integer_attribute(reader_, group, "channels");
    s.tokens = integer_attribute(reader_, group, "tokens");
    s.outlier_channels = integer_attribute(reader_, group, "outlier_channels");
    s.hessian_trace = number_attribute(reader_, group, "hessian_trace");
    s.moments = read_moments(reader_, group);
    s.histogram = read_histogram(reader_, group + "/histogram");
    s.abs_histogram = read_histogram(reader_, group + "/abs_histogram");
    s.abs_max = reader_.read_dataset<float>(group + "/channel_absmax");
    s.mean_abs = reader_.read_dataset<double>(group + "/mean_abs");
    s.mean_sq = reader_.read_dataset<double>(group + "/mean_sq");
    s.outlier_tokens = reader_.read_dataset<int64_t>(group + "/outlier_tokens");
    s.token_map = read_heat_map(reader_, group + "/token_map", "channel", "token");
    if (with_hessian) {
        if (!reader_.exists(group + "/hessian"))
            throw Error(reader_.path().string(), "has no full Hessian for " + record + " (run calibrate with --full-hessian)");
        s.hessian = HessianMatrix{s.channels, s.tokens, reader_.read_dataset<double>(group + "/hessian")};
    }
    return s;
}

std::optional<SensitivityResult> AnalysisFile::sensitivity() const {
    if (!reader_.exists("/sensitivity")) return std::nullopt;
    const std::string g = "/sensitivity";
    SensitivityResult r;
    r.base_ppl = number_attribute(reader_, g, "base_ppl");
    r.importance = string_attribute(reader_, g, "importance") != "none";
    r.protocol = protocol_by_name(string_attribute(reader_, g, "evaluation_protocol"));
    r.eval_ctx = integer_attribute(reader_, g, "evaluation_ctx");
    r.eval_chunks = integer_attribute(reader_, g, "evaluation_chunks");
    r.eval_tokens = integer_attribute(reader_, g, "evaluation_tokens");
    const std::vector<std::string> tensors = reader_.read_strings(g + "/tensor"), formats = reader_.read_strings(g + "/format");
    r.entries.resize(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        r.entries[i].tensor = tensors[i];
        r.entries[i].format = formats.at(i);
    }
    for (const Column& c : kColumns) {
        const std::vector<double> values = reader_.read_dataset<double>(g + "/" + c.name);
        for (size_t i = 0; i < r.entries.size(); ++i) r.entries[i].*c.field = values.at(i);
    }
    const std::vector<std::string> estimates = reader_.read_strings(g + "/spearman/estimate"),
                                   targets = reader_.read_strings(g + "/spearman/target"),
                                   correlation_formats = reader_.read_strings(g + "/spearman/format");
    const std::vector<double> rho = reader_.read_dataset<double>(g + "/spearman/rho");
    const std::vector<int64_t> count = reader_.read_dataset<int64_t>(g + "/spearman/count");
    for (size_t i = 0; i < estimates.size(); ++i)
        r.correlations.push_back({estimates[i], targets.at(i), correlation_formats.at(i), rho.at(i), count.at(i)});
    const std::vector<std::string> skipped_tensors = reader_.read_strings(g + "/skipped/tensor"),
                                   skipped_formats = reader_.read_strings(g + "/skipped/format"),
                                   problems = reader_.read_strings(g + "/skipped/problem");
    for (size_t i = 0; i < skipped_tensors.size(); ++i) r.skipped.push_back({skipped_tensors[i], skipped_formats.at(i), problems.at(i)});
    return r;
}

HessianSource AnalysisFile::hessian_source() const {
    HessianSource source;
    for (const std::string& record : activation_records())
        source.records.push_back({record, strings_attribute(reader_, record_group(record), "tensors")});
    source.load = [this](const std::string& record) { return *activations(record, true).hessian; };
    return source;
}

}  // namespace qb
