#include "core/analysis/hessian.h"

#include <algorithm>

#include "core/infer/matmul.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {

std::vector<double> HessianMatrix::diagonal() const {
    std::vector<double> diagonal;
    for (int64_t i = 0; i < dim; ++i) diagonal.push_back(at(i, i));
    return diagonal;
}

double HessianMatrix::trace() const {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += at(i, i);
    return sum;
}

uint64_t hessian_bytes(int64_t channels) { return uint64_t(channels) * uint64_t(channels) * sizeof(double); }

std::vector<std::vector<size_t>> hessian_budget_groups(const std::vector<uint64_t>& bytes, uint64_t budget) {
    std::vector<std::vector<size_t>> groups;
    uint64_t used = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (groups.empty() || (!groups.back().empty() && used + bytes[i] > budget)) {
            groups.emplace_back();
            used = 0;
        }
        groups.back().push_back(i);
        used += bytes[i];
    }
    return groups;
}

HessianMatrix hessian_from_upper_sums(int64_t dim, int64_t tokens, std::vector<double> sums) {
    HessianMatrix h{dim, tokens, std::move(sums)};
    const double scale = tokens > 0 ? 1.0 / double(tokens) : 0.0;
    for (int64_t i = 0; i < dim; ++i)
        for (int64_t j = i; j < dim; ++j) {
            const double value = h.values[size_t(i * dim + j)] * scale;
            h.values[size_t(i * dim + j)] = value;
            h.values[size_t(j * dim + i)] = value;
        }
    return h;
}

HessianAccumulator::HessianAccumulator(int64_t dim) : dim_(dim) {
    if (dim < 1) throw Error("hessian", "dimension " + std::to_string(dim) + " is not positive");
    sums_.assign(size_t(dim * dim), 0.0);
}

void HessianAccumulator::add(const float* x, int64_t rows, int threads) {
    // Starting threads costs more than a small product (stories260K's 64 channels) gains from them.
    constexpr double kParallelMinProducts = double(1 << 24);
    if (double(dim_) * double(dim_) * double(std::min(rows, kTokensPerProduct)) < kParallelMinProducts) threads = 1;
    for (int64_t first = 0; first < rows; first += kTokensPerProduct)
        add_block(x + first * dim_, std::min(kTokensPerProduct, rows - first), threads);
    tokens_ += rows;
}

// Tiles of kTile channels: each token's tile is one contiguous read, written to kTile rows of Xᵀ.
void HessianAccumulator::transpose(const float* x, int64_t rows, int threads) {
    constexpr int64_t kTile = 16;
    transposed_.resize(size_t(dim_ * rows));
    parallel_for((dim_ + kTile - 1) / kTile, threads, [&](int64_t begin, int64_t end) {
        for (int64_t tile = begin; tile < end; ++tile) {
            const int64_t c0 = tile * kTile, c1 = std::min(dim_, c0 + kTile);
            for (int64_t t = 0; t < rows; ++t)
                for (int64_t c = c0; c < c1; ++c) transposed_[size_t(c * rows + t)] = x[t * dim_ + c];
        }
    });
}

// Xᵀ is both operands of matmul_nt (which multiplies rows by rows): row block [i0, i1) of Xᵀ against
// rows [i0, dim) gives H's rows i0..i1-1 from the diagonal rightwards.
void HessianAccumulator::add_block(const float* x, int64_t rows, int threads) {
    transpose(x, rows, threads);
    product_.resize(size_t(std::min(kRowBlock, dim_) * dim_));
    for (int64_t i0 = 0; i0 < dim_; i0 += kRowBlock) {
        const int64_t height = std::min(kRowBlock, dim_ - i0), width = dim_ - i0;
        const float* block = transposed_.data() + i0 * rows;
        matmul_nt({block, height, rows, rows}, {block, width, rows, rows}, {product_.data(), height, width, width}, threads);
        parallel_for(height, threads, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                double* sums = sums_.data() + (i0 + r) * dim_ + i0;
                const float* partial = product_.data() + r * width;
                for (int64_t c = r; c < width; ++c) sums[c] += double(partial[c]);
            }
        });
    }
}

HessianMatrix HessianAccumulator::finish() && { return hessian_from_upper_sums(dim_, tokens_, std::move(sums_)); }

}  // namespace qb
