#include "core/infer/forward.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "core/infer/forward_kernels.h"
#include "core/infer/matmul.h"
#include "core/jobs/job.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

// Element-wise passes cost far less than a matrix product; below this many values, starting threads
// would cost more than it saves.
constexpr int64_t kParallelMinValues = 1 << 15;
// Query rows per attention work item: causal attention of a block needs keys up to its last row only.
constexpr int64_t kAttentionRowBlock = 64;

void for_rows(int64_t rows, int64_t values_per_row, int threads, const std::function<void(int64_t, int64_t)>& fn) {
    parallel_for(rows, rows * values_per_row < kParallelMinValues ? 1 : threads, fn);
}

int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

std::string count_text(int64_t n, const char* unit) { return std::to_string(n) + " " + unit; }

}  // namespace

// The state of one forward call: options, resolved weights and activation buffers.
class Transformer::Pass {
public:
    Pass(const Transformer& net, const ForwardOptions& options, int64_t tokens)
        : net_(net), options_(options), n_(tokens), embd_(net.hparams_.n_embd) {
        if (net.compute_.positions != PositionKind::Learned)
            rotary_.emplace(n_, net.hparams_.rope_dims, net.hparams_.rope_theta,
                            net.compute_.positions == PositionKind::RotaryPairs);
        if (options.overrides)
            for (const auto& [name, values] : *options.overrides) {
                const int64_t expected = net.numel(name);
                if (expected == 0) throw Error("weight override", "the model has no tensor '" + name + "'");
                if (int64_t(values.size()) != expected)
                    throw Error("weight override", "tensor '" + name + "' needs " + count_text(expected, "values") +
                                                       ", got " + std::to_string(values.size()));
            }
    }

    std::vector<float> run(std::span<const int32_t> tokens) {
        std::vector<float> x = embed(tokens);
        for (const Layer& layer : net_.layers_) block(layer, x);
        const int64_t first = options_.first_logit_position, rows = n_ - first;
        std::vector<float> normed(size_t(rows * embd_));
        normalize(x.data() + first * embd_, rows, "output_norm", normed.data());
        std::vector<float> logits(size_t(rows * net_.classifier_.rows));
        linear(net_.classifier_, normed.data(), rows, logits.data(), net_.classifier_.rows);
        if (options_.stats) {
            options_.stats->peak_streamed_weight_bytes = gauge_.peak();
            options_.stats->executor_products = executor_products_;
            options_.stats->cpu_products = cpu_products_;
        }
        return logits;
    }

private:
    const std::vector<float>* override_of(const std::string& name) const {
        if (!options_.overrides) return nullptr;
        auto it = options_.overrides->find(name);
        return it == options_.overrides->end() ? nullptr : &it->second;
    }
    const float* values(const std::string& name) const {
        const std::vector<float>* replaced = override_of(name);
        return replaced ? replaced->data() : net_.vectors_.at(name).data();
    }
    const float* optional_values(const std::string& name) const {
        return net_.vectors_.count(name) ? values(name) : nullptr;
    }
    int threads() const { return options_.threads; }

    // Embedding rows are read from an override, the packed classifier (tied, resident) or the model.
    std::vector<float> embed(std::span<const int32_t> tokens) const {
        std::vector<float> x(size_t(n_ * embd_));
        std::vector<float> position_rows;
        const float* positions = nullptr;
        if (net_.compute_.positions == PositionKind::Learned) positions = rows_of("position_embd", 0, n_, position_rows);
        const std::vector<float>* replaced = override_of("token_embd");
        auto packed = net_.matrices_.find("token_embd");
        const TensorView& stored = net_.views_.at("token_embd");
        for (int64_t i = 0; i < n_; ++i) {
            float* row = x.data() + i * embd_;
            const int64_t token = tokens[size_t(i)];
            if (replaced)
                std::copy_n(replaced->data() + token * embd_, embd_, row);
            else if (packed != net_.matrices_.end())
                packed->second.unpack_row(token, row);
            else {
                stored.read_rows(token, 1, row);
                stored.evict_pages();  // one read can map far more than its row (a large folio of the page cache)
            }
            if (positions)
                for (int64_t c = 0; c < embd_; ++c) row[c] += positions[i * embd_ + c];
        }
        return x;
    }

    // Rows first..first+count-1 of a 2-D tensor that is not a linear weight: the override's, else decoded into buffer.
    const float* rows_of(const std::string& name, int64_t first, int64_t count, std::vector<float>& buffer) const {
        const TensorView& stored = net_.views_.at(name);
        if (const std::vector<float>* replaced = override_of(name)) return replaced->data() + first * stored.cols();
        buffer.resize(size_t(count * stored.cols()));
        stored.read_rows(first, count, buffer.data());
        return buffer.data();
    }

    void normalize(const float* x, int64_t rows, const std::string& norm, float* y) const {
        const NormKind kind = net_.compute_.norm;
        const float* weight = values(norm);
        const float* bias = optional_values(norm + ".bias");
        const double eps = net_.hparams_.norm_eps;
        for_rows(rows, embd_, threads(), [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) normalize_row(kind, x + r * embd_, embd_, weight, bias, eps, y + r * embd_);
        });
    }

    // y (rows x l.rows, row stride y_stride) = x · Wᵀ + b.
    void linear(const Linear& l, const float* x, int64_t rows, float* y, int64_t y_stride) const {
        if (options_.on_linear_input) options_.on_linear_input(l.name, x, rows, l.cols);
        const bool on_executor = net_.multiply(l.name, override_of(l.name), {x, rows, l.cols, l.cols},
                                               {y, rows, l.rows, y_stride}, threads(), &gauge_, options_.executor);
        ++(on_executor ? executor_products_ : cpu_products_);
        if (!l.has_bias) return;
        const float* bias = values(l.name + ".bias");
        for_rows(rows, l.rows, threads(), [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r)
                for (int64_t c = 0; c < l.rows; ++c) y[r * y_stride + c] += bias[c];
        });
    }

    void block(const Layer& layer, std::vector<float>& x) const {
        std::vector<float> normed(x.size()), branch(x.size());  // branch: output of attention, then of the FFN
        normalize(x.data(), n_, layer.attn_norm, normed.data());
        attention(layer, normed.data(), branch.data());
        if (net_.hparams_.parallel_residual) {
            normalize(x.data(), n_, layer.ffn_norm, normed.data());
            add_to(x, branch);
        } else {
            add_to(x, branch);
            normalize(x.data(), n_, layer.ffn_norm, normed.data());
        }
        feed_forward(layer, normed.data(), branch.data());
        add_to(x, branch);
    }

    void add_to(std::vector<float>& x, const std::vector<float>& delta) const {
        for (size_t i = 0; i < x.size(); ++i) x[i] += delta[i];
    }

    void feed_forward(const Layer& layer, const float* x, float* out) const {
        const int64_t ff = layer.ffn_up.rows;
        std::vector<float> up(size_t(n_ * ff));
        linear(layer.ffn_up, x, n_, up.data(), ff);
        const Activation act = net_.compute_.activation;
        if (act == Activation::SiluGated) {
            std::vector<float> gate(up.size());
            linear(layer.ffn_gate, x, n_, gate.data(), ff);
            for_rows(n_, ff, threads(), [&](int64_t begin, int64_t end) {
                activate_gated(gate.data() + begin * ff, up.data() + begin * ff, (end - begin) * ff);
            });
        } else {
            for_rows(n_, ff, threads(), [&](int64_t begin, int64_t end) {
                activate(act, up.data() + begin * ff, (end - begin) * ff);
            });
        }
        linear(layer.ffn_down, up.data(), n_, out, embd_);
    }

    void attention(const Layer& layer, const float* x, float* out) const {
        const HyperParams& hp = net_.hparams_;
        const int64_t head_dim = hp.head_dim, q_width = hp.n_head * head_dim, kv_width = hp.n_head_kv * head_dim;
        const int64_t qkv_width = q_width + 2 * kv_width;
        std::vector<float> qkv(size_t(n_ * qkv_width));
        int64_t column = 0;
        for (const Linear& l : layer.qkv) {
            linear(l, x, n_, qkv.data() + column, qkv_width);
            column += l.rows;
        }
        float* q = qkv.data();
        float* k = q + q_width;
        const float* v = k + kv_width;
        apply_rotary(q, hp.n_head, qkv_width);
        apply_rotary(k, hp.n_head_kv, qkv_width);

        std::vector<float> mixed(size_t(n_ * q_width));
        attend(q, k, v, qkv_width, mixed.data());
        linear(layer.attn_output, mixed.data(), n_, out, embd_);
    }

    void apply_rotary(float* heads, int64_t n_heads, int64_t stride) const {
        if (!rotary_) return;
        const int64_t head_dim = net_.hparams_.head_dim;
        for_rows(n_, n_heads * head_dim, threads(), [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i)
                for (int64_t h = 0; h < n_heads; ++h) rotary_->apply(heads + i * stride + h * head_dim, i);
        });
    }

    // Causal scaled dot-product attention of every head; a query head uses key/value head h / group (GQA).
    void attend(const float* q, const float* k, const float* v, int64_t stride, float* out) const {
        const HyperParams& hp = net_.hparams_;
        const int64_t head_dim = hp.head_dim, group = hp.n_head / hp.n_head_kv;
        const float scale = float(1.0 / std::sqrt(double(head_dim)));
        // Values transposed per kv head (head_dim rows of n, zero-padded), for weighted_column_sum.
        const int64_t padded_n = round_up(n_, kRowMultiple);
        std::vector<float> values_t(size_t(hp.n_head_kv * head_dim * padded_n), 0.0f);
        for (int64_t i = 0; i < n_; ++i)
            for (int64_t c = 0; c < hp.n_head_kv * head_dim; ++c) values_t[size_t(c * padded_n + i)] = v[i * stride + c];

        const int64_t row_blocks = (n_ + kAttentionRowBlock - 1) / kAttentionRowBlock;
        const int64_t out_stride = hp.n_head * head_dim;
        parallel_for(hp.n_head * row_blocks, threads(), [&](int64_t begin, int64_t end) {
            std::vector<float> scores(size_t(kAttentionRowBlock * padded_n));
            for (int64_t item = begin; item < end; ++item) {
                const int64_t h = item / row_blocks, g = h / group;
                const int64_t row0 = (item % row_blocks) * kAttentionRowBlock;
                const int64_t rows = std::min(kAttentionRowBlock, n_ - row0), keys = row0 + rows;
                const int64_t scores_stride = round_up(keys, kRowMultiple);
                matmul_nt({q + row0 * stride + h * head_dim, rows, head_dim, stride}, {k + g * head_dim, keys, head_dim, stride},
                          {scores.data(), rows, keys, scores_stride}, 1);
                for (int64_t r = 0; r < rows; ++r) {
                    // Keys after the query are masked: -inf scores get weight 0.
                    float* weights = scores.data() + r * scores_stride;
                    const int64_t visible = row0 + r + 1, padded = round_up(visible, kRowMultiple);
                    std::fill(weights + visible, weights + padded, -INFINITY);
                    scaled_softmax(weights, padded, scale);
                    weighted_column_sum(weights, padded, values_t.data() + g * head_dim * padded_n, padded_n, head_dim,
                                        out + (row0 + r) * out_stride + h * head_dim);
                }
            }
        });
    }

    const Transformer& net_;
    const ForwardOptions& options_;
    int64_t n_ = 0, embd_ = 0;
    std::optional<Rotary> rotary_;
    mutable ByteGauge gauge_;  // buffers of streamed weights
    mutable int64_t executor_products_ = 0, cpu_products_ = 0;
};

namespace {

// The model's hyper-parameters with derivable defaults filled in; throws when attention cannot work.
HyperParams forward_hparams(const Model& model) {
    HyperParams hp = model.hparams;
    const std::string subject = model.source_path.string();
    if (hp.n_head <= 0 || hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_vocab <= 0)
        throw Error(subject, "hyper-parameters incomplete for a forward pass");
    if (hp.n_head_kv <= 0) hp.n_head_kv = hp.n_head;
    if (hp.head_dim <= 0) hp.head_dim = hp.n_embd / hp.n_head;
    if (hp.rope_dims <= 0) hp.rope_dims = hp.head_dim;
    if (hp.n_head % hp.n_head_kv != 0 || hp.rope_dims > hp.head_dim || hp.rope_dims % 2 != 0)
        throw Error(subject, "inconsistent attention hyper-parameters (" + count_text(hp.n_head, "heads") + ", " +
                                 count_text(hp.n_head_kv, "kv heads") + ", head dim " + std::to_string(hp.head_dim) +
                                 ", rotary dims " + std::to_string(hp.rope_dims) + ")");
    return hp;
}

}  // namespace

Transformer::Transformer(const Model& model, int threads, const JobControl* job, int64_t resident_budget_bytes)
    : architecture_(model.architecture), compute_(arch_compute(model.architecture)), hparams_(forward_hparams(model)),
      threads_(threads) {
    for (int64_t i = 0; i < hparams_.n_layer; ++i) layers_.push_back(describe_layer(model, i));
    classifier_ = expect_linear(model, model.find("output") ? "output" : "token_embd", hparams_.n_vocab, hparams_.n_embd);
    check_vector_sizes(model);
    load_weights(model, threads, job, resident_budget_bytes);
}

Transformer::Linear Transformer::expect_linear(const Model& model, const std::string& name, int64_t rows,
                                               int64_t cols) const {
    const TensorView& t = model.tensor(name);
    if (t.rows() != rows || t.cols() != cols)
        throw Error(model.source_path.string(), "tensor '" + name + "' is " + std::to_string(t.rows()) + "x" +
                                                    std::to_string(t.cols()) + ", expected " + std::to_string(rows) + "x" +
                                                    std::to_string(cols));
    return {name, rows, cols, model.find(name + ".bias") != nullptr};
}

Transformer::Layer Transformer::describe_layer(const Model& model, int64_t index) const {
    const HyperParams& hp = hparams_;
    const int64_t embd = hp.n_embd, q_rows = hp.n_head * hp.head_dim, kv_rows = hp.n_head_kv * hp.head_dim;
    const std::string blk = "blk." + std::to_string(index) + ".";
    const int64_t ff = hp.n_ff > 0 ? hp.n_ff : model.tensor(blk + "ffn_up").rows();
    Layer layer;
    layer.attn_norm = blk + "attn_norm";
    layer.ffn_norm = blk + "ffn_norm";
    if (model.find(blk + "attn_qkv"))
        layer.qkv = {expect_linear(model, blk + "attn_qkv", q_rows + 2 * kv_rows, embd)};
    else
        layer.qkv = {expect_linear(model, blk + "attn_q", q_rows, embd), expect_linear(model, blk + "attn_k", kv_rows, embd),
                     expect_linear(model, blk + "attn_v", kv_rows, embd)};
    layer.attn_output = expect_linear(model, blk + "attn_output", embd, q_rows);
    if (compute_.activation == Activation::SiluGated) layer.ffn_gate = expect_linear(model, blk + "ffn_gate", ff, embd);
    layer.ffn_up = expect_linear(model, blk + "ffn_up", ff, embd);
    layer.ffn_down = expect_linear(model, blk + "ffn_down", embd, ff);
    return layer;
}

// Norm weights and embeddings, which are not checked as linear layers.
void Transformer::check_vector_sizes(const Model& model) const {
    const int64_t embd = hparams_.n_embd;
    std::vector<std::pair<std::string, int64_t>> expected = {{"token_embd", hparams_.n_vocab * embd}, {"output_norm", embd}};
    if (compute_.positions == PositionKind::Learned) expected.push_back({"position_embd", hparams_.n_ctx * embd});
    for (const Layer& layer : layers_)
        for (const std::string& norm : {layer.attn_norm, layer.ffn_norm}) expected.push_back({norm, embd});
    for (const auto& [name, size] : expected)
        if (model.tensor(name).numel() != size)
            throw Error(model.source_path.string(), "tensor '" + name + "' has " +
                                                        count_text(model.tensor(name).numel(), "values") + ", expected " +
                                                        std::to_string(size));
}

// Keeps a view of every tensor; decodes the 1-D ones, and the linear weights (packed for matmul_nt) when
// their f32 size fits the budget.
void Transformer::load_weights(const Model& model, int threads, const JobControl* job, int64_t resident_budget_bytes) {
    std::set<std::string> linear_weights = {classifier_.name};
    for (const Layer& layer : layers_) {
        for (const Linear& l : layer.qkv) linear_weights.insert(l.name);
        for (const Linear* l : {&layer.attn_output, &layer.ffn_gate, &layer.ffn_up, &layer.ffn_down})
            if (!l->name.empty()) linear_weights.insert(l->name);
    }
    int64_t linear_bytes = 0;
    for (const std::string& name : linear_weights) linear_bytes += model.tensor(name).numel() * int64_t(sizeof(float));
    const bool resident = linear_bytes <= resident_budget_bytes;
    const int64_t count = int64_t(model.tensors.size());
    for (int64_t i = 0; i < count; ++i) {
        const TensorView& t = model.tensors[size_t(i)];
        if (job) job->step(i, count, "decoding " + t.name);
        views_.emplace(t.name, t);
        if (linear_weights.count(t.name)) {
            if (resident) {
                matrices_.emplace(t.name, PackedMatrix({t.to_f32(threads).data(), t.rows(), t.cols(), t.cols()}, threads));
                t.evict_pages();  // the decoded copy is all the forward pass reads
            }
        } else if (t.shape.size() < 2) {
            vectors_[t.name] = t.to_f32(threads);
        }
    }
    if (job) job->step(count, count, "weights decoded");
}

int64_t Transformer::numel(const std::string& name) const {
    auto v = views_.find(name);
    return v == views_.end() ? 0 : v->second.numel();
}

std::vector<float> Transformer::weight(const std::string& name) const {
    if (auto m = matrices_.find(name); m != matrices_.end()) return m->second.unpack();
    if (auto v = vectors_.find(name); v != vectors_.end()) return v->second;
    if (auto t = views_.find(name); t != views_.end()) return t->second.to_f32(threads_);
    throw Error("transformer", "no tensor '" + name + "'");
}

int64_t Transformer::resident_weight_bytes() const {
    int64_t values = 0;
    for (const auto& [name, m] : matrices_) values += m.rows() * m.cols();
    for (const auto& [name, v] : vectors_) values += int64_t(v.size());
    return values * int64_t(sizeof(float));
}

bool Transformer::multiply(const std::string& name, const std::vector<float>* override, ConstMatrixRef x, MatrixRef y,
                           int threads, ByteGauge* gauge, LinearExecutor* executor) const {
    const int64_t rows = y.cols, cols = x.cols;
    if (override) {
        matmul_nt(x, {override->data(), rows, cols, cols}, y, threads);
        return false;
    }
    const TensorView& stored = views_.at(name);
    if (executor && executor->multiply(stored, x, y)) return true;
    if (auto m = matrices_.find(name); m != matrices_.end()) {
        matmul_nt(x, m->second, y, threads);
        return false;
    }
    // Mapped pages are dropped as soon as their rows are decoded (where the rows are stored in order), and
    // the whole tensor's after the product: the next use reads them from the file (page cache) again.
    const RowSource source{rows, cols, [&stored](int64_t first, int64_t count, float* dst) {
                               stored.read_rows(first, count, dst);
                               stored.evict_rows(first, count);
                           }};
    matmul_nt(x, source, y, threads, gauge);
    stored.evict_pages();
    return false;
}

std::vector<float> Transformer::forward(std::span<const int32_t> tokens, const ForwardOptions& options) const {
    const int64_t n = int64_t(tokens.size());
    if (n == 0) throw Error("forward", "no tokens to process");
    if (hparams_.n_ctx > 0 && n > hparams_.n_ctx)
        throw Error("forward", count_text(n, "tokens") + " exceed the model's context of " + std::to_string(hparams_.n_ctx));
    for (int64_t i = 0; i < n; ++i)
        if (tokens[size_t(i)] < 0 || tokens[size_t(i)] >= hparams_.n_vocab)
            throw Error("forward", "token id " + std::to_string(tokens[size_t(i)]) + " at position " + std::to_string(i) +
                                       " is outside the vocabulary of " + std::to_string(hparams_.n_vocab));
    if (options.first_logit_position < 0 || options.first_logit_position > n)
        throw Error("forward", "first logit position " + std::to_string(options.first_logit_position) + " outside 0.." +
                                   std::to_string(n));
    return Pass(*this, options, n).run(tokens);
}

std::vector<int32_t> generate_greedy(const Transformer& model, std::vector<int32_t> prompt, int64_t count, int threads) {
    std::vector<int32_t> generated;
    ForwardOptions options;
    options.threads = threads;
    for (int64_t i = 0; i < count; ++i) {
        options.first_logit_position = int64_t(prompt.size()) - 1;
        const std::vector<float> logits = model.forward(prompt, options);
        const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        prompt.push_back(next);
        generated.push_back(next);
    }
    return generated;
}

}  // namespace qb
