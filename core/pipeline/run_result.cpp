#include "core/pipeline/run_result.h"

#include "core/io/json_text.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qb {
namespace {

using nlohmann::json;

// NaN (not measured) is null in JSON and back.
json number(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

double number_at(const json& object, const char* key) {
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? NAN : it->get<double>();
}

json tensor_json(const TensorRun& t) {
    return {{"name", t.name},       {"format", t.format},        {"algorithm", t.algorithm},
            {"parameters", t.parameters}, {"bytes", t.bytes},    {"bits_per_weight", t.bits_per_weight},
            {"mse", number(t.mse)}, {"sqnr_db", number(t.sqnr_db)}, {"cosine", number(t.cosine)},
            {"max_abs_error", number(t.max_abs_error)}, {"hessian_error", number(t.hessian_error)},
            {"seconds", t.seconds}};
}

TensorRun tensor_from(const json& j) {
    return {j.at("name"), j.at("format"), j.at("algorithm"), j.at("parameters"), j.at("bytes"),
            j.at("bits_per_weight"), number_at(j, "mse"), number_at(j, "sqnr_db"), number_at(j, "cosine"),
            number_at(j, "max_abs_error"), number_at(j, "hessian_error"), j.at("seconds")};
}

json evaluation_json(const EvaluationSummary& e) {
    return {{"done", e.done},
            {"protocol", e.protocol},
            {"ctx", e.ctx},
            {"chunks", e.chunks},
            {"tokens", e.tokens},
            {"ppl", number(e.ppl)},
            {"ppl_stderr", number(e.ppl_stderr)},
            {"base_ppl", number(e.base_ppl)},
            {"base_ppl_stderr", number(e.base_ppl_stderr)},
            {"delta_ppl", number(e.delta_ppl)},
            {"delta_ppl_percent", number(e.delta_ppl_percent)},
            {"kld", e.kld},
            {"mean_kld", number(e.mean_kld)},
            {"kld_stderr", number(e.kld_stderr)},
            {"median_kld", number(e.median_kld)},
            {"p99_kld", number(e.p99_kld)},
            {"max_kld", number(e.max_kld)},
            {"top1_agreement", number(e.top1_agreement)}};
}

EvaluationSummary evaluation_from(const json& j) {
    EvaluationSummary e;
    e.done = j.at("done");
    e.protocol = j.at("protocol");
    e.ctx = j.at("ctx");
    e.chunks = j.at("chunks");
    e.tokens = j.at("tokens");
    e.ppl = number_at(j, "ppl");
    e.ppl_stderr = number_at(j, "ppl_stderr");
    e.base_ppl = number_at(j, "base_ppl");
    e.base_ppl_stderr = number_at(j, "base_ppl_stderr");
    e.delta_ppl = number_at(j, "delta_ppl");
    e.delta_ppl_percent = number_at(j, "delta_ppl_percent");
    e.kld = j.at("kld");
    e.mean_kld = number_at(j, "mean_kld");
    e.kld_stderr = number_at(j, "kld_stderr");
    e.median_kld = number_at(j, "median_kld");
    e.p99_kld = number_at(j, "p99_kld");
    e.max_kld = number_at(j, "max_kld");
    e.top1_agreement = number_at(j, "top1_agreement");
    return e;
}

json roundtrip_json(const RoundTripSummary& r) {
    return {{"tensors", r.tensors}, {"exact_tensors", r.exact_tensors}, {"max_abs_diff", r.max_abs_diff},
            {"tokens", r.tokens},   {"max_logit_diff", r.max_logit_diff}, {"logit_tolerance", r.logit_tolerance}};
}

RoundTripSummary roundtrip_from(const json& j) {
    return {j.at("tensors"), j.at("exact_tensors"), j.at("max_abs_diff"),
            j.at("tokens"),  j.at("max_logit_diff"), j.at("logit_tolerance")};
}

json seconds_json(const StageTimes& s) {
    return {{"calibration", s.calibration}, {"quantization", s.quantization}, {"validation", s.validation},
            {"evaluation", s.evaluation},   {"total", s.total}};
}

StageTimes seconds_from(const json& j) {
    return {j.at("calibration"), j.at("quantization"), j.at("validation"), j.at("evaluation"), j.at("total")};
}

json provenance_json(const RunProvenance& p) {
    return {{"tool_version", p.tool_version},
            {"created", p.created},
            {"command_line", p.command_line},
            {"model_path", p.model_path},
            {"model_files", p.model_files},
            {"model_sha256", p.model_sha256},
            {"plan", p.plan},
            {"calibration_text", p.calibration_text},
            {"calibration_text_sha256", p.calibration_text_sha256},
            {"calibration_tokens", p.calibration_tokens},
            {"evaluation_text", p.evaluation_text},
            {"evaluation_text_sha256", p.evaluation_text_sha256}};
}

RunProvenance provenance_from(const json& j) {
    return {j.at("tool_version"),        j.at("created"),
            j.at("command_line"),        j.at("model_path"),
            j.at("model_files"),         j.at("model_sha256"),
            j.at("plan"),                j.at("calibration_text"),
            j.at("calibration_text_sha256"), j.at("calibration_tokens"),
            j.at("evaluation_text"),     j.at("evaluation_text_sha256")};
}

}  // namespace

json run_result_to_json(const RunResult& run) {
    json tensors = json::array();
    for (const auto& t : run.tensors) tensors.push_back(tensor_json(t));
    return {{"schema", kRunSchema},
            {"version", kRunVersion},
            {"config", run.config},
            {"target", run.target},
            {"plan_summary", run.plan_summary},
            {"output", run.output},
            {"file_bytes", run.file_bytes},
            {"tensor_bytes", run.tensor_bytes},
            {"parameters", run.parameters},
            {"bits_per_weight", run.bits_per_weight},
            {"fallbacks", run.fallbacks},
            {"evaluation", evaluation_json(run.evaluation)},
            {"roundtrip", roundtrip_json(run.roundtrip)},
            {"seconds", seconds_json(run.seconds)},
            {"tensors", tensors},
            {"provenance", provenance_json(run.provenance)}};
}

RunResult run_result_from_json(const json& doc, const std::string& subject) {
    if (!doc.is_object() || doc.value("schema", "") != kRunSchema || doc.value("version", 0) != kRunVersion)
        throw Error(subject, "not a run result (schema \"" + std::string(kRunSchema) + "\", version " +
                                 std::to_string(kRunVersion) + ")");
    try {
        RunResult run;
        run.config = doc.at("config");
        run.target = doc.at("target");
        run.plan_summary = doc.at("plan_summary");
        run.output = doc.at("output");
        run.file_bytes = doc.at("file_bytes");
        run.tensor_bytes = doc.at("tensor_bytes");
        run.parameters = doc.at("parameters");
        run.bits_per_weight = doc.at("bits_per_weight");
        run.fallbacks = doc.at("fallbacks");
        run.evaluation = evaluation_from(doc.at("evaluation"));
        run.roundtrip = roundtrip_from(doc.at("roundtrip"));
        run.seconds = seconds_from(doc.at("seconds"));
        for (const auto& t : doc.at("tensors")) run.tensors.push_back(tensor_from(t));
        run.provenance = provenance_from(doc.at("provenance"));
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
