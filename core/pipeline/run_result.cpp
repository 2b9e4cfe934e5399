#include "core/pipeline/run_result.h"

#include <concepts>
#include <type_traits>

#include "core/io/json_text.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qb {
namespace {

using nlohmann::json;

// A record's members are listed once, in visit_members below, for both directions: a visitor's
// operator() takes a value stored as it is, measured() a double that is NaN when not measured (null in
// JSON), record() a nested record and records() an array of them.
template <typename Record>
json json_of(const Record& record);
template <typename Record>
Record record_from(const json& object);

struct JsonWriter {
    json& object;

    void operator()(const char* key, const auto& value) { object[key] = value; }
    void measured(const char* key, double value) { object[key] = std::isnan(value) ? json(nullptr) : json(value); }
    void record(const char* key, const auto& value) { object[key] = json_of(value); }
    void records(const char* key, const auto& values) {
        json& array = object[key] = json::array();
        for (const auto& value : values) array.push_back(json_of(value));
    }
};

// Throws json::exception where a key is missing or holds another type; a missing measurement is NaN.
struct JsonReader {
    const json& object;

    template <typename T>
    void operator()(const char* key, T& value) { value = object.at(key).get<T>(); }
    void measured(const char* key, double& value) {
        const auto it = object.find(key);
        value = it == object.end() || it->is_null() ? NAN : it->get<double>();
    }
    template <typename T>
    void record(const char* key, T& value) { value = record_from<T>(object.at(key)); }
    template <typename T>
    void records(const char* key, std::vector<T>& values) {
        for (const json& value : object.at(key)) values.push_back(record_from<T>(value));
    }
};

// Record, const or not: the members are read from it (JsonWriter) or written into it (JsonReader).
template <typename T, typename Record>
concept either_const = std::same_as<std::remove_const_t<T>, Record>;

void visit_members(auto& visit, either_const<TensorRun> auto& t) {
    visit("name", t.name);
    visit("format", t.format);
    visit("algorithm", t.algorithm);
    visit("parameters", t.parameters);
    visit("bytes", t.bytes);
    visit("bits_per_weight", t.bits_per_weight);
    visit.measured("mse", t.mse);
    visit.measured("sqnr_db", t.sqnr_db);
    visit.measured("cosine", t.cosine);
    visit.measured("max_abs_error", t.max_abs_error);
    visit.measured("hessian_error", t.hessian_error);
    visit("seconds", t.seconds);
}

void visit_members(auto& visit, either_const<EvaluationSummary> auto& e) {
    visit("done", e.done);
    visit("protocol", e.protocol);
    visit("ctx", e.ctx);
    visit("chunks", e.chunks);
    visit("tokens", e.tokens);
    visit.measured("ppl", e.ppl);
    visit.measured("ppl_stderr", e.ppl_stderr);
    visit.measured("base_ppl", e.base_ppl);
    visit.measured("base_ppl_stderr", e.base_ppl_stderr);
    visit.measured("delta_ppl", e.delta_ppl);
    visit.measured("delta_ppl_percent", e.delta_ppl_percent);
    visit("kld", e.kld);
    visit.measured("mean_kld", e.mean_kld);
    visit.measured("kld_stderr", e.kld_stderr);
    visit.measured("median_kld", e.median_kld);
    visit.measured("p99_kld", e.p99_kld);
    visit.measured("max_kld", e.max_kld);
    visit.measured("top1_agreement", e.top1_agreement);
}

void visit_members(auto& visit, either_const<RoundTripSummary> auto& r) {
    visit("tensors", r.tensors);
    visit("exact_tensors", r.exact_tensors);
    visit("max_abs_diff", r.max_abs_diff);
    visit("tokens", r.tokens);
    visit("max_logit_diff", r.max_logit_diff);
    visit("logit_tolerance", r.logit_tolerance);
}

void visit_members(auto& visit, either_const<StageTimes> auto& s) {
    visit("calibration", s.calibration);
    visit("quantization", s.quantization);
    visit("validation", s.validation);
    visit("evaluation", s.evaluation);
    visit("total", s.total);
}

void visit_members(auto& visit, either_const<RunProvenance> auto& p) {
    visit("tool_version", p.tool_version);
    visit("created", p.created);
    visit("command_line", p.command_line);
    visit("model_path", p.model_path);
    visit("model_files", p.model_files);
    visit("model_sha256", p.model_sha256);
    visit("plan", p.plan);
    visit("calibration_text", p.calibration_text);
    visit("calibration_text_sha256", p.calibration_text_sha256);
    visit("calibration_tokens", p.calibration_tokens);
    visit("evaluation_text", p.evaluation_text);
    visit("evaluation_text_sha256", p.evaluation_text_sha256);
}

void visit_members(auto& visit, either_const<RunResult> auto& run) {
    visit("config", run.config);
    visit("target", run.target);
    visit("plan_summary", run.plan_summary);
    visit("output", run.output);
    visit("file_bytes", run.file_bytes);
    visit("tensor_bytes", run.tensor_bytes);
    visit("parameters", run.parameters);
    visit("bits_per_weight", run.bits_per_weight);
    visit("fallbacks", run.fallbacks);
    visit.record("evaluation", run.evaluation);
    visit.record("roundtrip", run.roundtrip);
    visit.record("seconds", run.seconds);
    visit.records("tensors", run.tensors);
    visit.record("provenance", run.provenance);
}

void visit_members(auto& visit, either_const<StageDevices> auto& d) {
    visit("calibration", d.calibration);
    visit("hessians", d.hessians);
    visit("quantization", d.quantization);
    visit("evaluation", d.evaluation);
}

template <typename Record>
json json_of(const Record& record) {
    json object = json::object();
    JsonWriter writer{object};
    visit_members(writer, record);
    return object;
}

template <typename Record>
Record record_from(const json& object) {
    Record record;
    JsonReader reader{object};
    visit_members(reader, record);
    return record;
}

}  // namespace

json run_result_to_json(const RunResult& run) {
    json doc = json_of(run);
    doc["schema"] = kRunSchema;
    doc["version"] = kRunVersion;
    if (!run.devices.empty()) doc["devices"] = json_of(run.devices);  // older files have none
    return doc;
}

RunResult run_result_from_json(const json& doc, const std::string& subject) {
    if (!doc.is_object() || doc.value("schema", "") != kRunSchema || doc.value("version", 0) != kRunVersion)
        throw Error(subject, "not a run result (schema \"" + std::string(kRunSchema) + "\", version " +
                                 std::to_string(kRunVersion) + ")");
    try {
        RunResult run = record_from<RunResult>(doc);
        if (doc.contains("devices")) run.devices = record_from<StageDevices>(doc.at("devices"));
        return run;
    } catch (const json::exception& e) {
        throw Error(subject, std::string("malformed run result: ") + e.what());
    }
}

RunResult load_run_result(const std::filesystem::path& path) {
    return run_result_from_json(read_json_file(path), path.string());
}

void save_run_result(const RunResult& run, const std::filesystem::path& path) {
    const std::string text = run_result_to_json(run).dump(2) + "\n";
    AtomicFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace qb
