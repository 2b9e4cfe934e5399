#include "core/plan/plan_export.h"

#include "core/export/gguf_export.h"
#include "core/util/error.h"

namespace qb {

ExportPlan export_plan_of(const ResolvedPlan& plan, const std::filesystem::path& output) {
    const auto exporter = plan_exporter(plan.target);
    if (!exporter) throw Error("target", "the analysis target has no exporter (use gguf, safetensors-fake or gptq)");
    ExportPlan out;
    out.target = *exporter;
    out.output = output;
    const bool dtype_for_kept = out.target != ExportTarget::Gguf;
    for (const auto& t : plan.tensors)
        out.tensors.push_back({t.name, t.keep && dtype_for_kept ? nullptr : t.format, {}, {}});
    return out;
}

GgufFileSize gguf_file_size(const ResolvedPlan& plan, const Model& model) {
    if (plan.target != PlanTarget::Gguf)
        throw Error("gguf size", "the plan was resolved for " + std::string(plan_target_name(plan.target)) + ", not gguf");
    // Never written: the exporter only needs an output path that is not the input.
    const std::filesystem::path placeholder = model.source_path.string() + ".plan-size.gguf";
    const GgufLayout layout = gguf_export_layout(model, export_plan_of(plan, placeholder));
    return {layout.file_size, layout.data_offset, plan.total_bytes()};
}

}  // namespace qb
