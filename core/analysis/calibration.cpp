#include "core/analysis/calibration.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/analysis/kernels.h"
#include "core/backend/backend.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

// Weight roles that multiply the same input as another weight, and the role naming their shared record.
constexpr std::pair<std::string_view, std::string_view> kSharedInputs[] = {
    {"attn_q", "attn_qkv"}, {"attn_k", "attn_qkv"}, {"attn_v", "attn_qkv"}, {"ffn_gate", "ffn_up"}};

constexpr double kLogHistogramDecades = 8.0;
// Below this many values a per-record summary is cheaper on one thread than starting more.
constexpr int64_t kParallelMinValues = int64_t(1) << 16;

struct RecordShape {
    std::string name;
    int64_t channels = 0;
    std::vector<std::string> tensors;
};

// The records in forward order, from the hook calls of a one-token forward pass.
std::vector<RecordShape> discover_records(const Transformer& model, int32_t token, int threads) {
    std::vector<RecordShape> shapes;
    ForwardOptions forward;
    forward.threads = threads;
    forward.on_linear_input = [&](const std::string& tensor, const float*, int64_t, int64_t cols) {
        const std::string record = input_record_name(tensor);
        auto it = std::find_if(shapes.begin(), shapes.end(), [&](const RecordShape& s) { return s.name == record; });
        if (it == shapes.end()) it = shapes.insert(shapes.end(), RecordShape{record, cols, {}});
        it->tensors.push_back(tensor);
    };
    const int32_t one_token[] = {token};
    model.forward(one_token, forward);
    return shapes;
}

bool keeps_hessian(const CalibrationOptions& options, const std::string& record) {
    return options.full_hessian &&
           (options.hessian_records.empty() ||
            std::find(options.hessian_records.begin(), options.hessian_records.end(), record) != options.hessian_records.end());
}

// The records' passes by the budget rule (hessian_budget_groups): one group of all records when no Hessian is
// kept, and one pass even for no records.
std::vector<std::vector<size_t>> hessian_groups(const std::vector<RecordShape>& shapes, const CalibrationOptions& options) {
    std::vector<uint64_t> bytes;
    for (const RecordShape& shape : shapes)
        bytes.push_back(keeps_hessian(options, shape.name) ? hessian_bytes(shape.channels) : 0);
    std::vector<std::vector<size_t>> groups = hessian_budget_groups(bytes, options.hessian_memory_bytes);
    if (groups.empty()) groups.emplace_back();
    return groups;
}

// Per-channel running sums over tokens, in token order (independent of the thread count).
struct ChannelSums {
    std::vector<float> abs_max;
    std::vector<double> sum_abs, sum_sq;
    std::vector<int64_t> outliers;
    float outlier_bound = 0;  // |x| > threshold  <=>  |x| > outlier_bound, for float x

    ChannelSums(int64_t channels, double threshold)
        : abs_max(size_t(channels), 0.0f), sum_abs(size_t(channels), 0.0), sum_sq(size_t(channels), 0.0),
          outliers(size_t(channels), 0), outlier_bound(kernels::float_at_or_below(threshold)) {}

    void add(const float* x, int64_t rows, int threads) {
        const int64_t channels = int64_t(abs_max.size());
        parallel_for(channels, rows * channels < kParallelMinValues ? 1 : threads, [&](int64_t begin, int64_t end) {
            for (int64_t t = 0; t < rows; ++t) {
                const float* row = x + t * channels;
                for (int64_t c = begin; c < end; ++c) {
                    const float a = std::abs(row[c]);
                    abs_max[size_t(c)] = std::max(abs_max[size_t(c)], a);
                    sum_abs[size_t(c)] += double(a);
                    sum_sq[size_t(c)] += double(a) * double(a);
                    outliers[size_t(c)] += a > outlier_bound;
                }
            }
        });
    }
};

// Channels × tokens from the accumulator's tokens × channels.
HeatMap transposed(const HeatMap& map) {
    HeatMap t{map.reduce, map.col_edges, map.row_edges, std::vector<float>(map.cells.size())};
    for (int64_t i = 0; i < map.cell_rows(); ++i)
        for (int64_t j = 0; j < map.cell_cols(); ++j) t.cells[size_t(j * map.cell_rows() + i)] = map.at(i, j);
    return t;
}

// Everything of a record but its Hessian.
class ActivationSummary {
public:
    ActivationSummary(const RecordShape& shape, int64_t total_tokens, const CalibrationOptions& options)
        : shape_(shape), options_(options), sums_(shape.channels, options.outlier_threshold),
          token_map_(total_tokens, shape.channels, {options.token_map.max_cols, options.token_map.max_rows, options.token_map.reduce}) {}

    void add(const float* x, int64_t rows, int threads) {
        const int64_t n = rows * shape_.channels;
        if (!histogram_) start_histograms(x, n);
        moments_.add({x, size_t(n)});
        histogram_->add({x, size_t(n)});
        abs_histogram_->add({x, size_t(n)});
        sums_.add(x, rows, threads);
        for (int64_t t = 0; t < rows; ++t) token_map_.add_row(tokens_ + t, x + t * shape_.channels);
        tokens_ += rows;
    }

    ActivationStats finish(std::optional<HessianMatrix> hessian) && {
        ActivationStats s;
        s.record = shape_.name;
        s.tensors = shape_.tensors;
        s.channels = shape_.channels;
        s.tokens = tokens_;
        s.moments = moments_.result();
        s.histogram = histogram_->result();
        s.abs_histogram = abs_histogram_->result();
        s.abs_max = std::move(sums_.abs_max);
        s.mean_abs = per_token(sums_.sum_abs);
        s.mean_sq = per_token(sums_.sum_sq);
        for (double x : s.mean_sq) s.hessian_trace += x;
        s.outlier_channels = std::count_if(sums_.outliers.begin(), sums_.outliers.end(), [](int64_t n) { return n > 0; });
        s.outlier_tokens = std::move(sums_.outliers);
        s.token_map = transposed(token_map_.result());
        s.hessian = std::move(hessian);
        return s;
    }

private:
    void start_histograms(const float* x, int64_t n) {
        const float first_abs_max = kernels::abs_max(x, n);
        const double hi = options_.histogram_margin * (first_abs_max > 0 ? double(first_abs_max) : 1.0);
        histogram_.emplace(HistogramScale::Linear, options_.histogram_bins, -hi, hi);
        abs_histogram_.emplace(HistogramScale::LogAbs, options_.histogram_bins, hi * std::pow(10.0, -kLogHistogramDecades), hi, true);
    }
    std::vector<double> per_token(std::vector<double> sums) const {
        for (double& s : sums) s /= double(tokens_);
        return sums;
    }

    RecordShape shape_;
    const CalibrationOptions& options_;
    int64_t tokens_ = 0;
    MomentAccumulator moments_;
    std::optional<HistogramAccumulator> histogram_, abs_histogram_;
    ChannelSums sums_;
    HeatMapAccumulator token_map_;  // tokens × channels, the order x arrives in
};

void validate(const Transformer& model, const CalibrationOptions& options, int64_t text_tokens) {
    const int64_t ctx = options.ctx;
    if (ctx < 1) throw Error("calibration", "context of " + std::to_string(ctx) + " tokens is too small");
    if (model.context_length() > 0 && ctx > model.context_length())
        throw Error("calibration", "context of " + std::to_string(ctx) + " tokens exceeds the model's context of " +
                                       std::to_string(model.context_length()));
    if (options.tokens < ctx)
        throw Error("calibration", std::to_string(options.tokens) + " tokens do not fill one chunk of " + std::to_string(ctx));
    if (text_tokens < ctx)
        throw Error("calibration", "text too short: " + std::to_string(text_tokens) + " tokens, but one chunk of " +
                                       std::to_string(ctx) + " needs " + std::to_string(ctx));
    validate_histogram_bins(options.histogram_bins);
    if (!(options.histogram_margin >= 1) || !std::isfinite(options.histogram_margin))
        throw Error("calibration", "histogram margin must be a finite number of at least 1");
    if (!(options.outlier_threshold >= 0) || !std::isfinite(options.outlier_threshold))
        throw Error("calibration", "outlier threshold must be a finite non-negative number");
}

// The passes over the text: pass 0 collects every summary, pass p the Hessians of group p.
class Calibrator {
public:
    Calibrator(const Transformer& model, const EvalText& text, const CalibrationOptions& options, int threads)
        : model_(model), text_(text), options_(options), threads_(threads),
          shapes_(discover_records(model, text.tokens[0], threads)), groups_(hessian_groups(shapes_, options)) {
        run_.ctx = options.ctx;
        run_.chunks = std::min<int64_t>(options.tokens, int64_t(text.tokens.size())) / options.ctx;
        run_.tokens = run_.chunks * run_.ctx;
        run_.passes = int(groups_.size());
        run_.outlier_threshold = options.outlier_threshold;
        for (size_t i = 0; i < shapes_.size(); ++i) {
            run_.records.push_back(shapes_[i].name);
            for (const std::string& tensor : shapes_[i].tensors) {
                index_of_[tensor] = i;
                run_.record_of[tensor] = shapes_[i].name;
            }
            summaries_.emplace_back(shapes_[i], run_.tokens, options);
        }
    }

    const CalibrationRun& run() const { return run_; }

    // Runs every chunk, then hands the records of this pass's group to the sink.
    void run_pass(int pass, const ActivationSink& sink, JobControl* control) {
        pass_ = pass;
        hessians_.clear();
        for (size_t i : groups_[size_t(pass)])
            if (keeps_hessian(options_, shapes_[i].name))
                hessians_.emplace(i, options_.backend ? options_.backend->hessian_sums(shapes_[i].channels, threads_)
                                                      : make_cpu_hessian_sums(shapes_[i].channels, threads_));
        ForwardOptions forward;
        forward.threads = threads_;
        forward.executor = options_.executor;
        forward.on_linear_input = [this](const std::string& tensor, const float* x, int64_t rows, int64_t) { observe(tensor, x, rows); };
        for (int64_t c = 0; c < run_.chunks; ++c) {
            if (control) control->step(pass * run_.chunks + c, run_.passes * run_.chunks, chunk_label(c));
            std::vector<int32_t> chunk(text_.tokens.begin() + c * run_.ctx, text_.tokens.begin() + (c + 1) * run_.ctx);
            if (text_.bos_id >= 0) chunk[0] = text_.bos_id;
            seen_.assign(shapes_.size(), false);
            model_.forward(chunk, forward);
        }
        for (size_t i : groups_[size_t(pass)]) {
            std::optional<HessianMatrix> hessian;
            if (auto node = hessians_.extract(i)) hessian = node.mapped()->finish();
            sink(std::move(summaries_[i]).finish(std::move(hessian)));
        }
    }

private:
    void observe(const std::string& tensor, const float* x, int64_t rows) {
        const size_t i = index_of_.at(tensor);
        if (seen_[i]) return;  // a shared input, already taken from the first weight of its record
        seen_[i] = true;
        if (pass_ == 0) {
            if (!kernels::all_finite(x, rows * shapes_[i].channels))
                throw Error("calibration", "the input of " + tensor + " is not finite (the model overflows)");
            summaries_[i].add(x, rows, threads_);
        }
        if (auto h = hessians_.find(i); h != hessians_.end()) h->second->add(x, rows);
    }

    std::string chunk_label(int64_t chunk) const {
        std::string label = "chunk " + std::to_string(chunk + 1) + "/" + std::to_string(run_.chunks);
        if (run_.passes > 1) label += ", pass " + std::to_string(pass_ + 1) + "/" + std::to_string(run_.passes);
        return label;
    }

    const Transformer& model_;
    const EvalText& text_;
    const CalibrationOptions& options_;
    int threads_;
    std::vector<RecordShape> shapes_;
    std::vector<std::vector<size_t>> groups_;
    CalibrationRun run_;
    std::unordered_map<std::string, size_t> index_of_;  // weight tensor -> record index
    std::vector<ActivationSummary> summaries_;
    std::unordered_map<size_t, std::unique_ptr<HessianSums>> hessians_;  // this pass's group
    std::vector<bool> seen_;                                   // records already observed in this chunk
    int pass_ = 0;
};

}  // namespace

std::string input_record_name(const std::string& tensor) {
    const size_t dot = tensor.rfind('.');
    const std::string_view role = dot == std::string::npos ? std::string_view(tensor) : std::string_view(tensor).substr(dot + 1);
    for (const auto& [member, shared] : kSharedInputs)
        if (role == member) return tensor.substr(0, tensor.size() - role.size()) + std::string(shared);
    return tensor;
}

const ActivationStats* Calibration::find(const std::string& record) const {
    for (const ActivationStats& s : records)
        if (s.record == record) return &s;
    return nullptr;
}

const ActivationStats& Calibration::input_of(const std::string& tensor) const {
    auto it = run.record_of.find(tensor);
    const ActivationStats* s = it == run.record_of.end() ? nullptr : find(it->second);
    if (!s) throw Error("calibration", "no linear layer multiplies '" + tensor + "'");
    return *s;
}

CalibrationRun calibrate(const Transformer& model, const EvalText& text, const CalibrationOptions& options,
                         const ActivationSink& sink, JobControl* control, int threads) {
    validate(model, options, int64_t(text.tokens.size()));
    Calibrator calibrator(model, text, options, threads);
    for (int pass = 0; pass < calibrator.run().passes; ++pass) calibrator.run_pass(pass, sink, control);
    if (control) control->step(1, 1, "done");
    return calibrator.run();
}

Calibration calibrate(const Transformer& model, const EvalText& text, const CalibrationOptions& options,
                      JobControl* control, int threads) {
    Calibration calibration;
    calibration.run = calibrate(model, text, options, [&](ActivationStats&& s) { calibration.records.push_back(std::move(s)); },
                                control, threads);
    return calibration;
}

}  // namespace qb
