#include "core/algo/rtn.h"

#include "core/algo/options.h"
#include "core/backend/backend.h"

namespace qb {

const FormatInfo& clip_searching(const FormatInfo& f) {
    if (f.kind != FormatKind::IntGrid || f.grid.clip_search) return f;
    return format_by_name(f.name + "_clip");
}

void encode_and_decode(const FormatInfo& encoder, const float* values, int64_t rows, int64_t cols,
                       const float* importance, int threads, QuantizeResult& result, Backend* backend) {
    if (backend) {
        result.bytes.resize(encoder.tensor_bytes(rows, cols));
        backend->encode(encoder, rows, cols, values, result.bytes.data(), importance);
        result.dequantized.resize(size_t(rows * cols));
        backend->decode(encoder, rows, cols, result.bytes.data(), result.dequantized.data());
        return;
    }
    result.bytes = encode_tensor(encoder, {values, size_t(rows * cols)}, rows, cols, importance, threads);
    result.dequantized = decode_tensor(encoder, result.bytes, rows, cols, threads);
}

QuantizeResult run_rtn(const QuantizeRequest& r) {
    OptionReader options(r.options, "rtn");
    const bool clip = options.flag("clip", false);
    options.finish();
    QuantizeResult result;
    encode_and_decode(clip ? clip_searching(*r.format) : *r.format, r.weight, r.rows, r.cols,
                      r.importance.empty() ? nullptr : r.importance.data(), r.threads, result, r.backend);
    result.details["clip"] = clip;
    return result;
}

QuantizeResult run_imatrix(const QuantizeRequest& r) {
    OptionReader(r.options, "imatrix").finish();
    const std::vector<float> importance(r.mean_square.begin(), r.mean_square.end());
    QuantizeResult result;
    encode_and_decode(clip_searching(*r.format), r.weight, r.rows, r.cols, importance.data(), r.threads, result,
                      r.backend);
    return result;
}

}  // namespace qb
