#include "core/algo/gptq.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <numeric>

#include "core/algo/code_grid.h"
#include "core/algo/linalg.h"
#include "core/algo/options.h"
#include "core/backend/backend.h"
#include "core/jobs/job.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr int64_t kChunkRows = 64;  // rows swept together: each chunk streams U once
constexpr int kDampRetries = 3;
constexpr double kRetryDamp = 0.01;  // the first retry of an undamped Hessian

struct Settings {
    double percdamp = 0.01;
    int64_t block = 128;
    bool act_order = false;
    bool static_groups = false;
};

Settings read_settings(const QuantizeRequest& r, int64_t unit) {
    OptionReader options(r.options, "gptq");
    Settings s;
    s.percdamp = options.number("percdamp", 0.01, 0.0, 1e6);
    s.block = options.integer("block_size", 128, 1, int64_t(1) << 20);
    s.act_order = options.flag("act_order", false);
    s.static_groups = options.flag("static_groups", s.act_order);
    options.finish();
    const bool whole_rows = unit == r.cols;
    if (s.act_order && !s.static_groups && !whole_rows)
        throw Error("gptq", "act_order with dynamic groups needs a g_idx layout, which " + r.format->name +
                                " does not have: use static_groups");
    if (s.act_order || whole_rows) s.static_groups = true;
    if (!s.static_groups) s.block = std::max<int64_t>(unit, s.block / unit * unit);  // a unit never spans blocks
    return s;
}

std::vector<int64_t> column_order(const QuantizeRequest& r, bool act_order) {
    std::vector<int64_t> order(size_t(r.cols));
    std::iota(order.begin(), order.end(), 0);
    const auto diagonal = [&](int64_t j) { return r.hessian[size_t(j * r.cols + j)]; };
    if (act_order)
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return diagonal(a) > diagonal(b); });
    return order;
}

// U for the permuted, dead-fixed and damped Hessian, as f32 for the sweep; settings.percdamp is updated
// to the damping that made H + λI positive definite.
std::vector<float> inverse_hessian_factor(const QuantizeRequest& r, const std::vector<int64_t>& order,
                                          Settings& settings) {
    const int64_t n = r.cols;
    double mean_diagonal = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double d = r.hessian[size_t(j * n + j)];
        mean_diagonal += d == 0 ? 1.0 : d;
    }
    mean_diagonal /= double(n);
    for (int attempt = 0;; ++attempt) {
        std::vector<double> h(size_t(n * n));
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) h[size_t(i * n + j)] = r.hessian[size_t(order[i] * n + order[j])];
        for (int64_t i = 0; i < n; ++i) {
            double& d = h[size_t(i * n + i)];
            if (d == 0) d = 1;
            d += settings.percdamp * mean_diagonal;
        }
        const std::vector<double> u = inverse_cholesky_upper(std::move(h), n, r.threads);
        if (!u.empty()) return std::vector<float>(u.begin(), u.end());
        if (attempt == kDampRetries)
            throw Error("gptq", "the Hessian is not positive definite even with percdamp " +
                                    nlohmann::json(settings.percdamp).dump());
        settings.percdamp = settings.percdamp > 0 ? settings.percdamp * 10 : kRetryDamp;
    }
}

class Sweep {
public:
    Sweep(const QuantizeRequest& r, const Settings& s, const CodeGrid& grid, std::vector<int64_t> order,
          std::vector<float> u, QuantizeResult& result)
        : r_(r),
          s_(s),
          grid_(grid),
          order_(std::move(order)),
          u_(std::move(u)),
          result_(result),
          n_(r.cols),
          unit_(grid.unit_values(r.cols)),
          units_(n_ / unit_),
          grids_(size_t(r.rows * units_)) {
        for (int64_t j = 0; j < n_; ++j) dead_.push_back(r.hessian[size_t(j * n_ + j)] == 0);
    }

    // CPU: chunks of kChunkRows rows sweep on their own threads, each updating in place. A backend that
    // accelerates the update takes all rows at once (its updater keeps them on the device) while the host
    // quantizes the chunks of each block on its threads. Either way each chunk's loss sums its rows'
    // blocks in the same order, and the chunks' losses are summed in chunk order.
    double run(Backend& backend) {
        const int64_t chunks = (r_.rows + kChunkRows - 1) / kChunkRows;
        std::vector<double> losses(size_t(chunks), 0.0);
        if (!backend.accelerates_gptq(r_.rows, n_, s_.block)) {
            parallel_tiles(chunks, r_.threads, [&](int64_t chunk) {
                if (r_.job) r_.job->check("gptq");
                const int64_t r0 = chunk * kChunkRows;
                sweep_rows(r0, std::min(r_.rows, r0 + kChunkRows), nullptr, losses.data() + chunk);
            });
        } else {
            parallel_tiles(1, 1, [&](int64_t) { sweep_rows(0, r_.rows, &backend, losses.data()); });
        }
        return std::accumulate(losses.begin(), losses.end(), 0.0);
    }

private:
    const float* importance(int64_t column) const {
        return r_.importance.empty() ? nullptr : r_.importance.data() + column;
    }

    // The row with dead columns zeroed, in natural order.
    std::vector<float> original_row(int64_t row) const {
        std::vector<float> w(r_.weight + row * n_, r_.weight + (row + 1) * n_);
        for (int64_t j = 0; j < n_; ++j)
            if (dead_[size_t(j)]) w[size_t(j)] = 0;
        return w;
    }

    // Rows r0..r1 (r0 a multiple of kChunkRows) through every block: each row's own columns of the block
    // one by one (each error updating the block's later columns), chunk by chunk on the host's threads,
    // then the lazy update of all columns after the block, in place or by `device`. losses[c]: chunk c's
    // Σ err².
    void sweep_rows(int64_t r0, int64_t r1, Backend* device, double* losses) {
        const int64_t m = r1 - r0, chunks = (m + kChunkRows - 1) / kChunkRows;
        const auto for_chunks = [&](const std::function<void(int64_t i0, int64_t i1, int64_t chunk)>& fn) {
            const auto one = [&](int64_t c) { fn(c * kChunkRows, std::min(m, (c + 1) * kChunkRows), c); };
            if (chunks == 1) return one(0);
            parallel_tiles(chunks, r_.threads, one);
        };
        std::vector<float> w(size_t(m * n_)), err(size_t(m * s_.block));
        std::vector<uint8_t> codes(size_t(m * n_));
        for_chunks([&](int64_t i0, int64_t i1, int64_t) {
            for (int64_t i = i0; i < i1; ++i) {
                const std::vector<float> row = original_row(r0 + i);
                if (s_.static_groups)
                    for (int64_t u = 0; u < units_; ++u)
                        grids_[size_t((r0 + i) * units_ + u)] =
                            grid_.fit(row.data() + u * unit_, unit_, importance(u * unit_));
                for (int64_t k = 0; k < n_; ++k) w[size_t(i * n_ + k)] = row[size_t(order_[size_t(k)])];
            }
        });
        const std::unique_ptr<GptqUpdater> updater = device ? device->gptq_updater(w.data(), m, n_, u_.data())
                                                            : make_cpu_gptq_updater(w.data(), m, n_, u_.data());
        for (int64_t i1 = 0; i1 < n_; i1 += s_.block) {
            const int64_t i2 = std::min(n_, i1 + s_.block);
            if (r_.job) r_.job->check("gptq");
            for_chunks([&](int64_t c0, int64_t c1, int64_t chunk) {
                for (int64_t i = c0; i < c1; ++i)
                    losses[chunk] += quantize_block(r0 + i, w.data() + i * n_, i1, i2, codes.data() + i * n_,
                                                    err.data() + i * (i2 - i1));
            });
            updater->update(err.data(), i1, i2, std::min(n_, i2 + s_.block));
        }
        const size_t row_bytes = r_.format->row_bytes(n_);
        for_chunks([&](int64_t i0, int64_t i1, int64_t) {
            for (int64_t i = i0; i < i1; ++i)
                grid_.write_row(grids_.data() + (r0 + i) * units_, codes.data() + i * n_, n_,
                                result_.bytes.data() + (r0 + i) * row_bytes);
        });
    }

    // Columns i1..i2 (sweep order) of one row; w is the row in sweep order. Returns Σ err².
    double quantize_block(int64_t row, float* w, int64_t i1, int64_t i2, uint8_t* codes, float* err) {
        double loss = 0;
        for (int64_t k = i1; k < i2; ++k) {
            const int64_t column = order_[size_t(k)];
            LinearGrid& g = grids_[size_t(row * units_ + column / unit_)];
            if (!s_.static_groups && column % unit_ == 0) g = grid_.fit(w + k, unit_, importance(column));
            const uint8_t code = g.code(w[k]);
            const float q = g.value(code);
            codes[column] = code;
            result_.dequantized[size_t(row * n_ + column)] = q;
            const float* u_row = u_.data() + k * n_;
            const float e = (w[k] - q) / u_row[k];
            err[k - i1] = e;
            loss += double(e) * double(e);
            for (int64_t j = k + 1; j < i2; ++j) w[j] -= e * u_row[j];
        }
        return loss;
    }

    const QuantizeRequest& r_;
    const Settings& s_;
    const CodeGrid& grid_;
    std::vector<int64_t> order_;  // sweep position -> column
    std::vector<float> u_;        // n x n, sweep order
    QuantizeResult& result_;
    int64_t n_, unit_, units_;
    std::vector<LinearGrid> grids_;  // rows x units
    std::vector<bool> dead_;
};

}  // namespace

std::string gptq_format_problem(const FormatInfo& format) {
    if (CodeGrid::for_format(format)) return "";
    return "gptq chooses codes on integer grids g<N>/pc and ggml q4_0 q4_1 q5_0 q5_1 q8_0, not " + format.name;
}

void gptq_block_update(const float* err, int64_t rows, int64_t block, const float* hinv_rows, int64_t hinv_stride,
                       float* w_tail, int64_t w_stride, int64_t tail_cols) {
    subtract_product(w_tail, w_stride, err, block, hinv_rows, hinv_stride, rows, tail_cols, block);
}

QuantizeResult run_gptq(const QuantizeRequest& r) {
    const std::unique_ptr<CodeGrid> grid = CodeGrid::for_format(*r.format);
    Settings settings = read_settings(r, grid->unit_values(r.cols));
    std::vector<int64_t> order = column_order(r, settings.act_order);
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> u = inverse_hessian_factor(r, order, settings);
    const auto factored = std::chrono::steady_clock::now();
    QuantizeResult result;
    result.bytes.resize(r.format->tensor_bytes(r.rows, r.cols));
    result.dequantized.resize(size_t(r.rows * r.cols));
    std::unique_ptr<Backend> own_backend;
    if (!r.backend) own_backend = make_cpu_backend(r.threads);
    Backend& backend = r.backend ? *r.backend : *own_backend;
    const double loss = Sweep(r, settings, *grid, std::move(order), std::move(u), result).run(backend);
    const auto swept = std::chrono::steady_clock::now();
    result.details = {{"percdamp", settings.percdamp},
                      {"block_size", settings.block},
                      {"act_order", settings.act_order},
                      {"static_groups", settings.static_groups},
                      {"damped_hessian_error", loss},
                      {"factor_seconds", std::chrono::duration<double>(factored - start).count()},
                      {"sweep_seconds", std::chrono::duration<double>(swept - factored).count()},
                      {"device", backend.accelerates_gptq(r.rows, r.cols, settings.block) ? backend.name() : "cpu"}};
    return result;
}

}  // namespace qb
