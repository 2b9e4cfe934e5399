// What one quantize run produced and what it cost in quality, with everything needed to reproduce it:
// the record `quantbench-cli quantize --json` prints, `compare` saves per configuration and `report` renders.
// JSON schema "quantbench.run", version 1: run_result_to_json(run_result_from_json(doc)) == doc.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace qb {

inline constexpr std::string_view kRunSchema = "quantbench.run";
inline constexpr int kRunVersion = 1;

struct TensorRun {
    std::string name;
    std::string format;
    std::string algorithm;  // empty: stored without an algorithm (kept, plain float)
    int64_t parameters = 0;
    uint64_t bytes = 0;
    double bits_per_weight = 0;
    // The algorithm's error of the dequantized weights against the source (NaN when none ran).
    double mse = NAN, sqnr_db = NAN, cosine = NAN, max_abs_error = NAN;
    double hessian_error = NAN;  // with calibration: Σ Δw H Δw, the layer's output error
    double seconds = 0;
};

struct StageTimes {
    double calibration = 0;  // calibration and, for a bit-budget plan, sensitivity and allocation
    double quantization = 0; // algorithms, encoding and writing the file
    double validation = 0;   // round trip
    double evaluation = 0;   // perplexity / KLD of the reloaded file and of the base model
    double total = 0;
};

// Where each stage computed, as a device description ("CPU", "Vulkan: llvmpipe (...)"); empty: the stage did
// not run in this job. calibration / evaluation: the forward passes' weight products (the rest of the forward
// pass is on the CPU); hessians: calibration's XᵀX sums; quantization: the algorithms' encoding and updates.
struct StageDevices {
    std::string calibration, hessians, quantization, evaluation;
    bool empty() const { return calibration.empty() && hessians.empty() && quantization.empty() && evaluation.empty(); }
    // Takes the stages this one lacks from `earlier` (a calibration run for the job before it: an automatic
    // plan's, or one shared by several jobs).
    void add_missing(const StageDevices& earlier) {
        for (auto [mine, theirs] : {std::pair{&calibration, &earlier.calibration}, {&hessians, &earlier.hessians},
                                    {&quantization, &earlier.quantization}, {&evaluation, &earlier.evaluation}})
            if (mine->empty()) *mine = *theirs;
    }
};

struct EvaluationSummary {
    bool done = false;
    std::string protocol;  // "llama.cpp" or "paper"
    int64_t ctx = 0, chunks = 0, tokens = 0;  // tokens: scored
    double ppl = NAN, ppl_stderr = NAN;
    double base_ppl = NAN, base_ppl_stderr = NAN;
    double delta_ppl = NAN, delta_ppl_percent = NAN;
    bool kld = false;
    double mean_kld = NAN, kld_stderr = NAN, median_kld = NAN, p99_kld = NAN, max_kld = NAN;
    double top1_agreement = NAN;
};

struct RoundTripSummary {
    int64_t tensors = 0, exact_tensors = 0;
    double max_abs_diff = 0;
    int64_t tokens = 0;
    double max_logit_diff = 0, logit_tolerance = 0;
};

struct RunProvenance {
    std::string tool_version;
    std::string created;       // UTC, ISO 8601
    std::string command_line;  // exact command that regenerates the run
    std::string model_path;
    std::vector<std::string> model_files, model_sha256;
    nlohmann::json plan = nlohmann::json::object();  // the QuantPlan (quantbench.plan v1) as run
    std::string calibration_text, calibration_text_sha256;
    int64_t calibration_tokens = 0;
    std::string evaluation_text, evaluation_text_sha256;
};

struct RunResult {
    std::string config;       // plan name
    std::string target;       // "gguf", "safetensors", "gptq"
    std::string plan_summary; // "q5_0 x29, q8_0 x3, ..."
    std::string output;
    uint64_t file_bytes = 0;
    uint64_t tensor_bytes = 0;   // the plan's stored tensor bytes
    int64_t parameters = 0;      // of the planned tensors
    double bits_per_weight = 0;  // 8 * tensor_bytes / parameters
    int64_t fallbacks = 0;
    EvaluationSummary evaluation;
    RoundTripSummary roundtrip;
    StageTimes seconds;
    StageDevices devices;            // absent from run files written before it (then empty)
    std::vector<TensorRun> tensors;  // file order
    RunProvenance provenance;
};

nlohmann::json run_result_to_json(const RunResult& run);
RunResult run_result_from_json(const nlohmann::json& doc, const std::string& subject = "run");  // Error(subject, ...)
RunResult load_run_result(const std::filesystem::path& path);
void save_run_result(const RunResult& run, const std::filesystem::path& path);  // atomic, 2-space JSON

}  // namespace qb
