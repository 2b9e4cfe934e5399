// quantbench-cli compare: runs several configurations of one model through the quantize pipeline and prints
// their comparison table; every output file and run record lands in --out-dir.
#include <cstdio>
#include <filesystem>

#include "app/cli/cmd_calibrate.h"
#include "app/cli/cmd_quantize.h"
#include "app/cli/commands.h"
#include "core/plan/presets.h"
#include "core/report/report.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

constexpr const char* kUsage =
    "compare MODEL (--plans A.json [B.json ...] | --presets q4_k_m,q8_0,...) --text FILE [--out-dir DIR] "
    "[--calib TEXT] [--algo NAME] [--kld] [--device cpu|vulkan|auto] [--format md|csv|latex|json] [--report FILE]";

std::vector<qb::QuantPlan> configurations(const qb::Model& model, const Args& args) {
    std::vector<qb::QuantPlan> plans;
    for (const auto& preset : args.values("presets")) plans.push_back(qb::preset_plan(preset, model));
    if (args.has("plans")) {
        for (const auto& file : args.values("plans")) plans.push_back(qb::load_plan(file));
        for (size_t i = 1; i < args.positionals().size(); ++i) plans.push_back(qb::load_plan(args.positionals()[i]));
    }
    for (auto& plan : plans) plan = with_algorithm(std::move(plan), args);
    return plans;
}

std::string extension_of(qb::PlanTarget target) { return target == qb::PlanTarget::Gguf ? ".gguf" : ""; }

bool any_needs_calibration(const qb::Model& model, const std::vector<qb::QuantPlan>& plans, qb::PlanTarget target) {
    for (const auto& plan : plans)
        if (qb::plan_needs_calibration(qb::resolve_plan(plan, model, target))) return true;
    return false;
}

}  // namespace

int run_compare(const CommandArgs& argv) {
    Args args(argv, pipeline_arg_spec({{"plans", "presets", "text", "out-dir", "format", "report", "device"}, {}}));
    if (args.positionals().empty() || !args.has("text") || (!args.has("plans") && !args.has("presets")))
        throw qb::Error("usage", kUsage);
    if (args.has("eval")) throw qb::Error("usage", "compare evaluates on --text FILE");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    const std::vector<qb::QuantPlan> plans = configurations(model, args);
    const qb::PlanTarget target = plan_target_of(args);
    const std::string command = command_line("compare", argv);
    qb::QuantizeJobOptions options = job_options(args, command);
    const JobDevice device = job_device(args, options);  // every configuration's job, and the shared calibration
    // The per-channel statistics are shared by every configuration; the Hessians (GPTQ) are not kept here:
    // each job calibrates the ones it needs in groups of --hessian-memory-mb (run_quantize_job), so memory
    // stays one group's Hessians however many configurations and layers there are. A plan whose AWQ search
    // uses Hessians calibrates them itself, up front.
    const std::optional<qb::Calibration> calibration =
        full_calibration(model, options, any_needs_calibration(model, plans, target), false);
    const qb::StageDevices calibrated_on = qb::calibration_devices(qb::job_calibration_options(options), {});

    const std::filesystem::path dir = args.value("out-dir", "compare-out");
    std::filesystem::create_directories(dir);
    std::vector<qb::RunResult> runs;
    for (const auto& plan : plans) {
        options.output = dir / (plan.name + extension_of(target));
        const qb::ResolvedPlan resolved = qb::resolve_plan(plan, model, target);
        const bool shared = calibration && !qb::plan_needs_eager_hessians(resolved);
        runs.push_back(run_configuration(model, plan, target, options, shared ? &*calibration : nullptr));
        if (shared && qb::plan_needs_calibration(resolved)) runs.back().devices.add_missing(calibrated_on);
        qb::save_run_result(runs.back(), dir / (plan.name + ".run.json"));
    }
    const qb::ReportFormat format = qb::report_format_by_name(args.value("format", "md"));
    const std::string report = qb::render_report(runs, format, command, false);
    if (!args.has("report")) {
        std::fputs(report.c_str(), stdout);
        return 0;
    }
    qb::AtomicFile out(args.value("report"));
    out.write(report.data(), report.size());
    out.commit();
    return 0;
}

}  // namespace qbcli
