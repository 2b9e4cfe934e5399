// The Hessian proxy of a linear layer y = W x: H = XᵀX / n over the n calibration tokens seen, X holding
// one token's input per row (GPTQ's convention without its factor 2: with it, the second-order loss
// increase of a weight change Δw is ½ Δwᵀ (2H) Δw = Δwᵀ H Δw, the mean squared change of that output
// per token). diag(H) is the mean x² per input channel, what llama.cpp's imatrix stores.
//
// Accumulation: the tokens of one add() call, in blocks of at most kTokensPerProduct, are multiplied in
// f32 by the forward pass's matrix kernel (so each f32 sum has at most that many terms), and every block
// product is added into an f64 matrix. Only the upper triangle is computed (half the work) and mirrored
// by finish(). Memory: dim² doubles plus dim × kTokensPerProduct and kRowBlock × dim floats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qb {

// A symmetric dim × dim matrix in row-major order, both triangles stored.
struct HessianMatrix {
    int64_t dim = 0;
    int64_t tokens = 0;  // n, the token count it is normalised by
    std::vector<double> values;

    double at(int64_t row, int64_t col) const { return values[size_t(row * dim + col)]; }
    std::vector<double> diagonal() const;
    double trace() const;
};

// Bytes of a channels × channels Hessian (f64).
uint64_t hessian_bytes(int64_t channels);
// The memory budget rule of calibration (calibration.h): consecutive items whose Hessians (of the given
// bytes) fit the budget together, at least one item per group. Indices into `bytes`; no group for no items.
std::vector<std::vector<size_t>> hessian_budget_groups(const std::vector<uint64_t>& bytes, uint64_t budget);

// H from Σ x xᵀ over `tokens` tokens (dim × dim, row-major) of which only the upper triangle (col >= row) is
// authoritative: divided by the token count (all zero for none) and mirrored into the lower triangle.
HessianMatrix hessian_from_upper_sums(int64_t dim, int64_t tokens, std::vector<double> sums);

class HessianAccumulator {
public:
    static constexpr int64_t kTokensPerProduct = 512;
    static constexpr int64_t kRowBlock = 128;

    explicit HessianAccumulator(int64_t dim);
    // Adds Σ_t x_t x_tᵀ of `rows` tokens (x: rows × dim, row-major). threads <= 0: all hardware threads.
    void add(const float* x, int64_t rows, int threads);
    int64_t tokens() const { return tokens_; }
    // H normalised by tokens() (all zero while no token was added), built in place of the sums.
    HessianMatrix finish() &&;

private:
    void transpose(const float* x, int64_t rows, int threads);
    void add_block(const float* x, int64_t rows, int threads);

    int64_t dim_;
    int64_t tokens_ = 0;
    std::vector<double> sums_;       // dim × dim; the upper triangle (col >= row) is authoritative
    std::vector<float> transposed_;  // dim × tokens of the current block
    std::vector<float> product_;     // kRowBlock × dim partial product
};

}  // namespace qb
