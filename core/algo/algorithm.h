// Quantization algorithms: how the values a format stores are chosen. A registry table of algorithms
// (name, description, format kinds, calibration inputs needed, run function) that plans pick by name.
//
// Contract of every algorithm: the input is one weight matrix W (f32, canonical [out, in] = rows x cols,
// row-major), a target format and the calibration inputs it needs, given as plain spans (this module
// never computes them):
//   - importance: per column, llama.cpp's imatrix weighting (mean x² over calibration tokens);
//   - hessian: H = Σ x xᵀ over calibration inputs x of this layer (cols x cols, row-major, double; any
//     positive multiple of it gives the same result);
//   - mean_abs, mean_square: per input channel mean |x| and mean x².
// The output is the encoded bytes in the format's exact layout (what export writes), the dequantized
// matrix the quantized layer computes with, and for AWQ the folding instructions (input_scales).
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/quant/error_metrics.h"
#include "core/quant/format.h"

namespace qb {

class Backend;
class JobControl;

struct QuantizeRequest {
    const float* weight = nullptr;  // rows x cols
    int64_t rows = 0, cols = 0;
    const FormatInfo* format = nullptr;
    std::span<const float> importance;                  // cols values, or empty
    std::span<const double> hessian;                    // cols * cols values, or empty
    std::span<const double> mean_abs;                   // cols values, or empty
    std::span<const double> mean_square;                // cols values, or empty
    std::span<const float> input_scales;                // awq only: cols scales to use instead of searching (awq.h)
    nlohmann::json options = nlohmann::json::object();  // per algorithm, see its header
    bool measure_hessian_error = true;  // with a Hessian: fill hessian_error (costs 2·rows·cols² flops)
    int threads = 0;                    // <= 0: all hardware threads; results do not depend on it
    const JobControl* job = nullptr;    // progress and cancellation
    // Where encoding and GPTQ's block update run (core/backend/backend.h; not owned); nullptr: the CPU
    // code in place. Results are the same bytes on every backend (GPTQ: as its updater states).
    Backend* backend = nullptr;
};

struct QuantizeResult {
    std::vector<uint8_t> bytes;      // format->tensor_bytes(rows, cols)
    std::vector<float> dequantized;  // rows x cols: the layer's effective weights (AWQ's 1/s included)
    // AWQ folding instructions, empty for other algorithms: the bytes hold Q(W·diag(s)), so the layer
    // computes the dequantized weights only once the producer of its input has its output channel j
    // divided by s_j (the RMSNorm weight before q/k/v and gate/up, the rows of up before down, the rows of
    // v before o when heads map one to one). dequantized = decode(bytes) / s per column.
    std::vector<float> input_scales;
    ErrorMetrics error;          // dequantized against W (importance-weighted when given)
    double hessian_error = NAN;  // Σ_r Δ_r H Δ_rᵀ, Δ = dequantized - W: the output error over calibration
    nlohmann::json details = nlohmann::json::object();  // what the algorithm chose (alpha, damping, ...)
};

struct Algorithm {
    std::string_view name;
    std::string_view description;
    std::vector<FormatKind> kinds;  // format kinds it can produce
    bool needs_hessian = false;
    bool needs_activations = false;  // mean_square (mean_abs where the algorithm says it uses it)
    // Finer limits within those kinds: "" when the algorithm can produce `format`, else why not.
    std::string (*format_problem)(const FormatInfo& format) = nullptr;
    // Fills bytes, dequantized, input_scales and details of a request already checked by quantize_matrix.
    QuantizeResult (*run)(const QuantizeRequest& request) = nullptr;
};

// rtn, imatrix, gptq, awq, hqq (in that order).
std::span<const Algorithm> algorithms();
// Throws Error("algorithm", "unknown algorithm 'x' (known: rtn, ...)").
const Algorithm& algorithm_by_name(std::string_view name);
// "" when `algorithm` can produce `format`, else the reason.
std::string algorithm_format_problem(const Algorithm& algorithm, const FormatInfo& format);

// Checks the request (shapes, the inputs the algorithm needs, the format), runs the algorithm and
// measures its error. Throws Error(algorithm name, reason) for a bad request, Cancelled when cancelled.
QuantizeResult quantize_matrix(std::string_view algorithm, const QuantizeRequest& request);

}  // namespace qb
