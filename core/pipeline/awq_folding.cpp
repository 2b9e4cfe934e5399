#include "core/pipeline/awq_folding.h"

#include <cmath>
#include <numeric>

#include "core/algo/awq.h"
#include "core/jobs/job.h"
#include "core/quant/format.h"
#include "core/util/error.h"

namespace qb {
namespace {

// Within a block, the groups whose producers are consumers of another group come first: attn_out (v's rows)
// before attn_in (reads v), ffn_out (up's rows) before ffn_in (reads up). Indices into a block's four groups.
constexpr size_t kSearchOrder[] = {1, 0, 3, 2};
constexpr size_t kGroupsPerBlock = 4;

int64_t rows_or_elements(const TensorView& t) { return t.shape.size() < 2 ? t.numel() : t.rows(); }

std::vector<int64_t> identity(int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), int64_t(0));
    return v;
}

bool is_identity(const std::vector<int64_t>& channel_of) {
    for (size_t c = 0; c < channel_of.size(); ++c)
        if (channel_of[c] != int64_t(c)) return false;
    return true;
}

class GroupBuilder {
public:
    explicit GroupBuilder(const Model& model) : model_(model) {}

    bool has(const std::string& name) const { return model_.find(name) != nullptr; }

    // The tensor and its bias, if any, as producers; a missing tensor is the group's problem.
    void add_producer(AwqFoldGroup& g, const std::string& tensor, int64_t offset) const {
        for (const std::string& name : {tensor, tensor + ".bias"}) {
            const TensorView* t = model_.find(name);
            if (t) g.producers.push_back({name, offset, rows_or_elements(*t)});
            else if (name == tensor && g.problem.empty()) g.problem = "the model has no " + tensor + " to fold 1/s into";
        }
    }

    void add_consumer(AwqFoldGroup& g, const std::string& tensor, int64_t cols) const {
        const TensorView* t = model_.find(tensor);
        if (!t) return;
        g.consumers.push_back(tensor);
        if (t->cols() != cols && g.problem.empty())
            g.problem = tensor + " has " + std::to_string(t->cols()) + " input columns, not the " + std::to_string(cols) +
                        " its producer gives";
    }

private:
    const Model& model_;
};

void check_scales(const AwqFoldGroup& g, const std::vector<float>& s) {
    if (!g.problem.empty()) throw Error("awq", g.name + ": " + g.problem);
    if (s.size() != g.channel_of.size())
        throw Error("awq", g.name + ": " + std::to_string(s.size()) + " scales for " + std::to_string(g.channel_of.size()) +
                               " input channels");
    for (float v : s)
        if (!(v > 0) || !std::isfinite(v)) throw Error("awq", g.name + ": scales must be finite and positive");
}

void fold_group(AwqFolding& folding, const AwqFoldGroup& g, std::vector<float> s) {
    check_scales(g, s);
    std::map<int64_t, float> channel_scale;  // columns sharing a producer channel take the first one's scale
    for (size_t c = 0; c < s.size(); ++c) s[c] = channel_scale.emplace(g.channel_of[c], s[c]).first->second;
    for (const std::string& consumer : g.consumers) {
        std::vector<float>& scales = folding.tensors[consumer].column_scales;
        if (scales.empty()) scales = s;
        else
            for (size_t c = 0; c < s.size(); ++c) scales[c] *= s[c];
    }
    for (const AwqProducer& p : g.producers) {
        std::vector<float>& divisors = folding.tensors[p.tensor].row_divisors;
        if (divisors.empty()) divisors.assign(size_t(p.length), 1.0f);
        for (const auto& [channel, scale] : channel_scale) {
            const int64_t row = p.offset + channel;
            if (row < 0 || row >= p.length) throw Error("awq", g.name + ": " + p.tensor + " has no channel " + std::to_string(row));
            divisors[size_t(row)] *= scale;
        }
    }
}

// The activation magnitude (mean |x|, else sqrt(mean x²)) averaged over the columns sharing a channel.
std::vector<double> tied_magnitude(const ActivationStats& input, const std::vector<int64_t>& channel_of) {
    std::map<int64_t, std::pair<double, int64_t>> sums;
    std::vector<double> a(channel_of.size());
    for (size_t c = 0; c < channel_of.size(); ++c) {
        a[c] = input.mean_abs.empty() ? std::sqrt(input.mean_sq.at(c)) : input.mean_abs.at(c);
        auto& [sum, count] = sums[channel_of[c]];
        sum += a[c];
        ++count;
    }
    for (size_t c = 0; c < channel_of.size(); ++c) {
        const auto& [sum, count] = sums[channel_of[c]];
        a[c] = sum / double(count);
    }
    return a;
}

bool is_awq(const TensorAssignment* a) { return a && a->quantized() && a->algorithm == "awq"; }

class FoldingPlanner {
public:
    FoldingPlanner(const Model& model, const ResolvedPlan& plan, const Calibration* calibration, const JobControl* job,
                   int threads)
        : model_(model), plan_(plan), calibration_(calibration), job_(job), threads_(threads) {}

    void plan(const AwqFoldGroup& g) {
        std::vector<std::string> awq, others;
        for (const std::string& c : g.consumers) {
            const TensorAssignment* a = plan_.find(c);
            if (is_awq(a)) awq.push_back(c);
            else if (a && a->quantized()) others.push_back(c + " (" + a->algorithm + ")");
        }
        if (awq.empty()) return;
        std::string why = g.problem;
        if (why.empty() && !others.empty()) {
            why = "shares its input with";
            for (const std::string& o : others) why += " " + o;
            why += ": the scale folded into " + g.producers.front().tensor + " applies to every reader, so all must use awq";
        }
        if (!why.empty()) {
            for (const std::string& c : awq) folding_.unscaled[c] = why;
            return;
        }
        if (!calibration_) throw Error(awq.front(), "awq needs calibration (give a calibration text)");
        search_and_fold(g, awq);
    }

    AwqFolding result() && { return std::move(folding_); }

private:
    void search_and_fold(const AwqFoldGroup& g, const std::vector<std::string>& consumers) {
        if (job_) job_->check("awq");
        std::vector<std::vector<float>> weights;
        for (const std::string& c : consumers) {
            const TensorView& t = model_.tensor(c);
            weights.push_back(folding_.apply(c, t.shape, t.to_f32(threads_), false));  // v / up rows already divided
            t.evict_pages();
        }
        const ActivationStats& input = calibration_->input_of(consumers.front());
        const std::vector<double> tied = is_identity(g.channel_of) ? std::vector<double>{} : tied_magnitude(input, g.channel_of);
        std::vector<QuantizeRequest> requests;
        for (size_t i = 0; i < consumers.size(); ++i) {
            const TensorAssignment& a = *plan_.find(consumers[i]);
            const ActivationStats& in = calibration_->input_of(consumers[i]);
            const TensorView& t = model_.tensor(consumers[i]);
            QuantizeRequest r;
            r.weight = weights[i].data();
            r.rows = t.rows();
            r.cols = t.cols();
            r.format = a.format;
            r.mean_abs = tied.empty() ? std::span<const double>(in.mean_abs) : std::span<const double>(tied);
            r.mean_square = in.mean_sq;
            if (in.hessian) r.hessian = in.hessian->values;
            r.options = plan_.find(consumers.front())->options;
            r.threads = threads_;
            r.job = job_;
            requests.push_back(r);
        }
        const AwqScales scales = awq_shared_scales(requests);
        folding_.alpha[g.name] = scales.alpha;
        fold_group(folding_, g, scales.scales);
    }

    const Model& model_;
    const ResolvedPlan& plan_;
    const Calibration* calibration_;
    const JobControl* job_;
    int threads_;
    AwqFolding folding_;
};

}  // namespace

std::vector<AwqFoldGroup> awq_fold_groups(const Model& model) {
    const HyperParams& hp = model.hparams;
    const GroupBuilder build(model);
    const int64_t n_head = hp.n_head, n_head_kv = hp.n_head_kv > 0 ? hp.n_head_kv : hp.n_head;
    const int64_t head_dim = hp.head_dim > 0 ? hp.head_dim : (n_head > 0 ? hp.n_embd / n_head : 0);
    const int64_t q_rows = n_head * head_dim, kv_rows = n_head_kv * head_dim;
    std::vector<AwqFoldGroup> groups;
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const std::string blk = "blk." + std::to_string(l) + ".";
        const bool fused = build.has(blk + "attn_qkv");

        AwqFoldGroup in{blk + "attn_in", {}, {}, identity(hp.n_embd), {}};
        for (const char* role : {"attn_qkv", "attn_q", "attn_k", "attn_v"}) build.add_consumer(in, blk + role, hp.n_embd);
        build.add_producer(in, blk + "attn_norm", 0);
        groups.push_back(std::move(in));

        AwqFoldGroup out{blk + "attn_out", {}, {}, {}, {}};
        build.add_consumer(out, blk + "attn_output", q_rows);
        build.add_producer(out, fused ? blk + "attn_qkv" : blk + "attn_v", fused ? q_rows + kv_rows : 0);
        if (n_head_kv <= 0 || n_head % n_head_kv != 0 || head_dim <= 0)
            out.problem = "the heads (" + std::to_string(n_head) + " query, " + std::to_string(n_head_kv) +
                          " key/value) do not map attn_output's columns onto v's rows";
        else
            for (int64_t c = 0; c < q_rows; ++c)  // query head h reads key/value head h / (n_head / n_head_kv)
                out.channel_of.push_back((c / head_dim) / (n_head / n_head_kv) * head_dim + c % head_dim);
        groups.push_back(std::move(out));

        AwqFoldGroup ffn_in{blk + "ffn_in", {}, {}, identity(hp.n_embd), {}};
        for (const char* role : {"ffn_gate", "ffn_up"}) build.add_consumer(ffn_in, blk + role, hp.n_embd);
        build.add_producer(ffn_in, blk + "ffn_norm", 0);
        groups.push_back(std::move(ffn_in));

        AwqFoldGroup ffn_out{blk + "ffn_out", {}, {}, identity(hp.n_ff), {}};
        build.add_consumer(ffn_out, blk + "ffn_down", hp.n_ff);
        build.add_producer(ffn_out, blk + "ffn_up", 0);
        if (!build.has(blk + "ffn_gate"))
            ffn_out.problem = "ffn_down reads act(ffn_up) through a nonlinear activation (non-gated MLP), so 1/s "
                              "cannot be folded into ffn_up";
        groups.push_back(std::move(ffn_out));
    }
    return groups;
}

const AwqTensorFold* AwqFolding::find(const std::string& tensor) const {
    const auto it = tensors.find(tensor);
    return it == tensors.end() ? nullptr : &it->second;
}

std::string AwqFolding::algorithm_for(const std::string& tensor, const std::string& algorithm) const {
    return algorithm == "awq" && unscaled.count(tensor) ? "rtn" : algorithm;
}

std::span<const float> AwqFolding::input_scales(const std::string& tensor) const {
    const AwqTensorFold* f = find(tensor);
    return f ? std::span<const float>(f->column_scales) : std::span<const float>();
}

std::vector<float> AwqFolding::apply(const std::string& tensor, const std::vector<int64_t>& shape, std::vector<float> values,
                                     bool with_columns) const {
    const AwqTensorFold* f = find(tensor);
    if (!f) return values;
    const int64_t cols = shape.size() < 2 ? 1 : shape.back();  // a vector: one "row" per element
    const int64_t rows = cols > 0 ? int64_t(values.size()) / cols : 0;
    const bool scale_columns = with_columns && !f->column_scales.empty() && shape.size() >= 2;
    if ((!f->row_divisors.empty() && int64_t(f->row_divisors.size()) != rows) ||
        (scale_columns && int64_t(f->column_scales.size()) != cols))
        throw Error(tensor, "the AWQ fold does not match the tensor's shape");
    for (int64_t r = 0; r < rows; ++r) {
        const double divisor = f->row_divisors.empty() ? 1.0 : double(f->row_divisors[size_t(r)]);
        for (int64_t j = 0; j < cols; ++j) {
            float& v = values[size_t(r * cols + j)];
            v = float(double(v) * (scale_columns ? double(f->column_scales[size_t(j)]) : 1.0) / divisor);
        }
    }
    return values;
}

AwqFolding fold_awq_scales(const std::vector<AwqFoldGroup>& groups, const std::vector<std::vector<float>>& scales) {
    if (scales.size() != groups.size())
        throw Error("awq", std::to_string(scales.size()) + " scale vectors for " + std::to_string(groups.size()) + " groups");
    AwqFolding folding;
    for (size_t i = 0; i < groups.size(); ++i)
        if (!scales[i].empty()) fold_group(folding, groups[i], scales[i]);
    return folding;
}

AwqFolding plan_awq_folding(const Model& model, const ResolvedPlan& plan, const Calibration* calibration,
                            const JobControl* job, int threads) {
    FoldingPlanner planner(model, plan, calibration, job, threads);
    const std::vector<AwqFoldGroup> groups = awq_fold_groups(model);
    for (size_t block = 0; block + kGroupsPerBlock <= groups.size(); block += kGroupsPerBlock)
        for (size_t k : kSearchOrder) planner.plan(groups[block + k]);
    AwqFolding folding = std::move(planner).result();
    std::map<std::string, bool> consumer;
    for (const AwqFoldGroup& g : groups)
        for (const std::string& c : g.consumers) consumer[c] = true;
    for (const TensorAssignment& a : plan.tensors)
        if (is_awq(&a) && !consumer.count(a.name))
            folding.unscaled[a.name] = "no producer to fold its scales into (AWQ scales the blocks' linear layers only)";
    return folding;
}

TensorProducer awq_folded_producer(const AwqFolding& folding, const TensorView& source, const FormatInfo& format,
                                   int threads) {
    return [&folding, &source, &format, threads] {
        const std::vector<float> values = folding.apply(source.name, source.shape, source.to_f32(threads), true);
        source.evict_pages();
        return encode_tensor(format, values, source.rows(), source.cols(), nullptr, threads);
    };
}

}  // namespace qb
