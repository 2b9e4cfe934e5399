#include "core/algo/algorithm.h"

#include "core/algo/awq.h"
#include "core/algo/gptq.h"
#include "core/algo/hqq.h"
#include "core/algo/linalg.h"
#include "core/algo/rtn.h"
#include "core/jobs/job.h"
#include "core/util/error.h"

namespace qb {
namespace {

const std::vector<FormatKind> kEncodable = {FormatKind::Float,       FormatKind::Integer, FormatKind::GgufBlock,
                                            FormatKind::IntGrid,     FormatKind::Lookup4, FormatKind::MiniFloat,
                                            FormatKind::Microscaling};

// clang-format off
const std::vector<Algorithm>& table() {
    static const std::vector<Algorithm> algorithms = {
        {"rtn", "round to nearest with the format's own encoder; option clip: MSE clipping search for int grids",
         kEncodable, false, false, nullptr, run_rtn},
        {"imatrix", "the format's encoder weighted by the activations' mean x² (llama.cpp's imatrix)",
         {FormatKind::GgufBlock, FormatKind::IntGrid}, false, true, nullptr, run_imatrix},
        {"gptq", "GPTQ (Frantar et al. 2022): codes chosen column by column with Hessian error feedback",
         {FormatKind::IntGrid, FormatKind::GgufBlock}, true, false, gptq_format_problem, run_gptq},
        {"awq", "AWQ-style (Lin et al. 2023): per-input-channel scales mean|x|^alpha searched on the output error",
         kEncodable, false, true, nullptr, run_awq},
        {"hqq", "HQQ (Badri & Shaji 2023): calibration-free half-quadratic optimisation of zero points and scales",
         {FormatKind::IntGrid}, false, false, hqq_format_problem, run_hqq},
    };
    return algorithms;
}
// clang-format on

void require_length(const Algorithm& a, std::string_view what, size_t got, int64_t want) {
    if (got != 0 && got != size_t(want))
        throw Error(std::string(a.name),
                    std::string(what) + " needs " + std::to_string(want) + " values, got " + std::to_string(got));
}

void check_request(const Algorithm& a, const QuantizeRequest& r) {
    const std::string subject(a.name);
    if (!r.format) throw Error(subject, "no target format");
    if (!r.weight || r.rows <= 0 || r.cols <= 0) throw Error(subject, "no weight matrix");
    if (const std::string problem = algorithm_format_problem(a, *r.format); !problem.empty())
        throw Error(subject, problem);
    if (const std::string problem = r.format->shape_problem(r.cols); !problem.empty())
        throw Error(subject, "format " + r.format->name + ": " + problem);
    require_length(a, "the importance vector", r.importance.size(), r.cols);
    require_length(a, "the Hessian", r.hessian.size(), r.cols * r.cols);
    require_length(a, "mean |x|", r.mean_abs.size(), r.cols);
    require_length(a, "mean x²", r.mean_square.size(), r.cols);
    require_length(a, "input_scales", r.input_scales.size(), r.cols);
    if (!r.input_scales.empty() && a.name != "awq") throw Error(subject, "input_scales are for awq only");
    if (a.needs_hessian && r.hessian.empty()) throw Error(subject, "needs the layer's Hessian (run calibration first)");
    if (a.needs_activations && r.mean_square.empty())
        throw Error(subject, "needs activation statistics: mean x² per input channel (run calibration first)");
}

std::vector<float> difference(const std::vector<float>& dequantized, const float* weight) {
    std::vector<float> delta(dequantized.size());
    for (size_t i = 0; i < delta.size(); ++i) delta[i] = dequantized[i] - weight[i];
    return delta;
}

}  // namespace

std::span<const Algorithm> algorithms() { return table(); }

const Algorithm& algorithm_by_name(std::string_view name) {
    std::string known;
    for (const Algorithm& a : table()) {
        if (a.name == name) return a;
        known += (known.empty() ? "" : ", ") + std::string(a.name);
    }
    throw Error("algorithm", "unknown algorithm '" + std::string(name) + "' (known: " + known + ")");
}

std::string algorithm_format_problem(const Algorithm& a, const FormatInfo& format) {
    if (!format.can_encode()) return "format " + format.name + " cannot be encoded";
    bool kind_ok = false;
    for (FormatKind k : a.kinds) kind_ok |= k == format.kind;
    if (!kind_ok)
        return std::string(a.name) + " does not produce " + std::string(format_kind_name(format.kind)) +
               " formats such as " + format.name;
    return a.format_problem ? a.format_problem(format) : "";
}

QuantizeResult quantize_matrix(std::string_view name, const QuantizeRequest& request) {
    const Algorithm& a = algorithm_by_name(name);
    check_request(a, request);
    if (request.job) request.job->check(a.name);
    QuantizeResult result = a.run(request);
    const size_t values = size_t(request.rows * request.cols);
    if (result.bytes.size() != request.format->tensor_bytes(request.rows, request.cols) ||
        result.dequantized.size() != values)
        throw Error(std::string(a.name), "produced a result of the wrong size");  // a bug, never user input
    ErrorAccumulator accumulator(request.cols, request.importance.empty() ? nullptr : request.importance.data());
    accumulator.add_rows(request.weight, result.dequantized.data(), request.rows);
    result.error = accumulator.metrics();
    result.error.bits_per_weight = request.format->bits_per_weight(request.rows, request.cols);
    if (!request.hessian.empty() && request.measure_hessian_error)
        result.hessian_error =
            hessian_weighted_error(difference(result.dequantized, request.weight).data(), request.rows, request.cols,
                                   request.hessian.data(), request.threads);
    return result;
}

}  // namespace qb
