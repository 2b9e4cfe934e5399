// quantbench-cli quantize: a model and a plan (file, preset or automatic allocation to a bit budget) in; a
// quantized, round-trip validated model file and, with --eval, its perplexity / KLD against the base out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

#include "app/cli/cmd_calibrate.h"
#include "app/cli/cmd_quantize.h"
#include "app/cli/commands.h"
#include "core/pipeline/auto_plan.h"
#include "core/infer/tokenizer.h"
#include "core/plan/presets.h"
#include "core/store/text_file.h"
#include "core/util/error.h"
#include "gpu/gpu_linear.h"
#include "gpu/vulkan_backend.h"

namespace qbcli {
namespace {

constexpr const char* kUsage =
    "quantize MODEL (--plan PLAN.json | --preset NAME | --target-bpw B | --max-file-bytes N) --out FILE "
    "[--to gguf|safetensors|gptq] [--candidates F,...] [--loss hessian|kld] [--base-format F] [--calib TEXT [--calib-tokens N] [--hessian-memory-mb M]] [--algo NAME] "
    "[--eval TEXT [--ctx N] [--protocol llama.cpp|paper] [--kld]] [--device cpu|vulkan|auto] [--save-run RUN.json] [--json]";

bool automatic(const Args& args) { return args.has("target-bpw") || args.has("max-file-bytes"); }

// The loss table is computed in bounded memory: Hessians in groups of --hessian-memory-mb, each dropped once
// its tensors' losses are known (auto_plan_streaming); the quantize job then calibrates what its algorithm needs.
qb::AutoPlan allocated_plan(const qb::Model& model, const Args& args, const qb::QuantizeJobOptions& job_options,
                            qb::JobControl& job) {
    if (!job_options.calibration_text) throw qb::Error("usage", "an automatic plan needs calibration: give --calib TEXT");
    qb::AutoPlanOptions options;
    options.target_bpw = args.number("target-bpw", 0);
    options.max_file_bytes = uint64_t(args.integer("max-file-bytes", 0));
    options.candidates = args.values("candidates");
    options.algorithm = args.value("algo", "rtn");
    options.loss = args.value("loss", "hessian");
    options.base_format = args.value("base-format", options.base_format);
    options.target = plan_target_of(args);
    const std::string& text = job_options.calibration_text->text;
    return qb::auto_plan_streaming(model, text, qb::job_calibration_options(job_options), text, options, &job,
                                   job_options.threads);
}

qb::QuantPlan chosen_plan(const qb::Model& model, const Args& args) {
    if (args.has("preset")) return qb::preset_plan(args.value("preset"), model);
    return qb::load_plan(args.value("plan"));
}

}  // namespace

ArgSpec pipeline_arg_spec(ArgSpec own) {
    own.options.insert({"calib", "calib-tokens", "calib-ctx", "hessian-memory-mb", "eval", "ctx", "protocol", "chunks", "threads", "algo", "to"});
    own.flags.insert({"kld", "fallback"});
    return own;
}

qb::PlanTarget plan_target_of(const Args& args) {
    const std::string to = args.value("to", "gguf");
    if (to == "gguf") return qb::PlanTarget::Gguf;
    if (to == "safetensors") return qb::PlanTarget::SafetensorsFake;
    if (to == "gptq") return qb::PlanTarget::Gptq;
    throw qb::Error("usage", "--to must be gguf, safetensors or gptq");
}

qb::QuantizeJobOptions job_options(const Args& args, const std::string& command_line) {
    qb::QuantizeJobOptions options;
    options.threads = int(args.integer("threads", 0));
    options.command_line = command_line;
    if (args.has("calib")) options.calibration_text = qb::read_text_file(args.value("calib"));
    options.calibration.tokens = args.integer("calib-tokens", options.calibration.tokens);
    options.calibration.ctx = args.integer("calib-ctx", options.calibration.ctx);
    if (args.has("hessian-memory-mb")) {
        const int64_t mb = args.integer("hessian-memory-mb", 0);
        if (mb < 1) throw qb::Error("usage", "--hessian-memory-mb must be at least 1");
        options.calibration.hessian_memory_bytes = uint64_t(mb) << 20;
    }
    const std::string evaluation = args.has("eval") ? args.value("eval") : args.value("text");  // compare: --text
    if (!evaluation.empty()) options.evaluation_text = qb::read_text_file(evaluation);
    options.evaluation.ctx = args.integer("ctx", 512);
    options.evaluation.protocol = qb::protocol_by_name(args.value("protocol", "llama.cpp"));
    options.evaluation.max_chunks = args.integer("chunks", 0);
    options.kld = args.flag("kld");
    if (options.kld && !options.evaluation_text) throw qb::Error("usage", "--kld needs --eval TEXT");
    return options;
}

JobDevice job_device(const Args& args, qb::QuantizeJobOptions& options) {
    JobDevice device{qb::gpu::select_backend(args.value("device", "cpu"), {.cpu_threads = options.threads}), nullptr};
    if (!device.choice.notice.empty()) std::fprintf(stderr, "%s\n", device.choice.notice.c_str());
    if (device.choice.backend->name() != "cpu")
        std::fprintf(stderr, "quantizing on %s\n", device.choice.backend->description().c_str());
    options.backend = device.choice.backend.get();
    device.executor = qb::gpu::linear_executor_for(*device.choice.backend);
    options.executor = device.executor.get();
    return device;
}

qb::QuantPlan with_algorithm(qb::QuantPlan plan, const Args& args) {
    if (args.flag("fallback")) plan.fallback = true;
    if (!args.has("algo")) return plan;
    plan.defaults.algorithm = args.value("algo");
    plan.defaults.options = nlohmann::json::object();
    plan.name += "+" + args.value("algo");
    return plan;
}

std::optional<qb::Calibration> full_calibration(const qb::Model& model, const qb::QuantizeJobOptions& options,
                                                bool needed, bool hessians) {
    if (!needed) return std::nullopt;
    if (!options.calibration_text) throw qb::Error("usage", "this plan needs calibration: give --calib TEXT");
    qb::JobControl progress = terminal_progress("calibration");
    // With an executor the CPU keeps no decoded copy of the weights (as the quantize job).
    const qb::Transformer net(model, options.threads, &progress, options.executor ? 0 : qb::kResidentWeightBudget);
    qb::CalibrationOptions calibration_options = qb::job_calibration_options(options);
    calibration_options.full_hessian = hessians;
    qb::Calibration calibration =
        qb::calibrate(net, qb::evaluation_text(qb::model_tokenizer(model), options.calibration_text->text),
                      calibration_options, &progress, options.threads);
    clear_terminal_progress();
    return calibration;
}

qb::RunResult run_configuration(const qb::Model& model, const qb::QuantPlan& plan, qb::PlanTarget target,
                                qb::QuantizeJobOptions options, const qb::Calibration* calibration) {
    const qb::ResolvedPlan resolved = qb::resolve_plan(plan, model, target);
    qb::JobControl progress = terminal_progress(plan.name);
    qb::RunResult run = qb::run_quantize_job(model, plan, resolved, options, &progress, calibration);
    clear_terminal_progress();
    return run;
}

void print_run(const qb::RunResult& r) {
    std::printf("config     %s (%s: %s)\n", r.config.c_str(), r.target.c_str(), r.plan_summary.c_str());
    std::printf("wrote      %s (%llu bytes; tensors %llu bytes, %.4f bpw over %lld parameters)\n", r.output.c_str(),
                (unsigned long long)r.file_bytes, (unsigned long long)r.tensor_bytes, r.bits_per_weight,
                (long long)r.parameters);
    std::printf("validated  %lld tensors reloaded (%lld identical); logits of %lld tokens: max |diff| %.3g\n",
                (long long)r.roundtrip.tensors, (long long)r.roundtrip.exact_tensors, (long long)r.roundtrip.tokens,
                r.roundtrip.max_logit_diff);
    const qb::EvaluationSummary& e = r.evaluation;
    if (e.done)
        std::printf("ppl        %.4f ± %.4f (base %.4f; Δppl %+.4f, %+.2f%%; %s protocol, ctx %lld, %lld chunks)\n", e.ppl,
                    e.ppl_stderr, e.base_ppl, e.delta_ppl, e.delta_ppl_percent, e.protocol.c_str(), (long long)e.ctx,
                    (long long)e.chunks);
    if (e.kld)
        std::printf("kld        mean %.6f ± %.6f, median %.6f, p99 %.6f, max %.6f; top-1 agreement %.2f%%\n", e.mean_kld,
                    e.kld_stderr, e.median_kld, e.p99_kld, e.max_kld, 100 * e.top1_agreement);
    // Where the stages ran, one line: "calibration, evaluation on Vulkan: ...; Hessians, quantization on ...".
    std::vector<std::pair<std::string, std::string>> stages_on;  // device -> its stages, in stage order
    for (const auto& [stage, device] : {std::pair{"calibration", &r.devices.calibration}, {"Hessians", &r.devices.hessians},
                                        {"quantization", &r.devices.quantization}, {"evaluation", &r.devices.evaluation}}) {
        if (device->empty()) continue;
        auto it = std::find_if(stages_on.begin(), stages_on.end(), [&](const auto& s) { return s.first == *device; });
        if (it == stages_on.end()) stages_on.emplace_back(*device, stage);
        else it->second += std::string(", ") + stage;
    }
    std::string devices;
    for (const auto& [device, stages] : stages_on) devices += (devices.empty() ? "" : "; ") + stages + " on " + device;
    if (!devices.empty()) std::printf("devices    %s\n", devices.c_str());
    std::printf("seconds    calibration %.2f, quantization %.2f, validation %.2f, evaluation %.2f, total %.2f\n",
                r.seconds.calibration, r.seconds.quantization, r.seconds.validation, r.seconds.evaluation,
                r.seconds.total);
}

int run_quantize(const CommandArgs& argv) {
    Args args(argv, pipeline_arg_spec({{"plan", "preset", "target-bpw", "max-file-bytes", "candidates", "loss", "base-format", "out", "save-run",
                                        "device"},
                                       {"json"}}));
    if (args.positionals().size() != 1 || !args.has("out")) throw qb::Error("usage", kUsage);
    if (int(args.has("plan")) + int(args.has("preset")) + int(automatic(args)) != 1)
        throw qb::Error("usage", "give one of --plan, --preset, --target-bpw or --max-file-bytes");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    qb::QuantizeJobOptions options = job_options(args, command_line("quantize", argv));
    options.output = args.value("out");
    // Encoding, GPTQ, Hessians and the forward products of calibration (the automatic plan's too) and evaluation
    // run on the chosen device; without one, on the CPU with a notice.
    const JobDevice device = job_device(args, options);
    const auto start = std::chrono::steady_clock::now();

    qb::RunResult run;
    if (automatic(args)) {
        qb::JobControl progress = terminal_progress("allocation");
        const qb::AutoPlan automatic_plan = allocated_plan(model, args, options, progress);
        clear_terminal_progress();
        const qb::AllocationMemory& m = automatic_plan.memory;
        std::fprintf(stderr, "allocation: %lld input records in %d calibration passes, at most %.1f MB of Hessians at once "
                             "(all: %.1f MB), %lld held by the allocation\n",
                     (long long)m.records, m.calibration_passes, double(m.peak_group_hessian_bytes) / 1048576.0,
                     double(m.all_hessian_bytes) / 1048576.0, (long long)m.peak_hessians_held);
        run = run_configuration(model, automatic_plan.plan, plan_target_of(args), options, nullptr);
        run.devices.add_missing(automatic_plan.devices);  // its calibration counts in seconds.calibration below
        run.seconds.calibration = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() -
                                  (run.seconds.total - run.seconds.calibration);
        run.seconds.total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
        run = run_configuration(model, with_algorithm(chosen_plan(model, args), args), plan_target_of(args), options,
                                nullptr);
    }
    if (args.has("save-run")) qb::save_run_result(run, args.value("save-run"));
    if (args.flag("json")) std::printf("%s\n", qb::run_result_to_json(run).dump(2).c_str());
    else print_run(run);
    return 0;
}

}  // namespace qbcli
