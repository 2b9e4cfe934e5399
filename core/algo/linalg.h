// Dense linear algebra for the Hessian-based algorithms, on row-major matrices: a register-blocked
// "C -= A·B" kernel (float and double), the Cholesky factor of H⁻¹ that GPTQ sweeps with, and the
// Hessian-weighted error Σ_r Δ_r H Δ_rᵀ. Every output element is accumulated in the same order whatever
// the thread count or tiling, so results are reproducible bit for bit. threads <= 0: all hardware threads.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace qb {

// c (m x n, row stride ldc) -= a (m x k, lda) · b (k x n, ldb). One thread.
void subtract_product(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                      int64_t n, int64_t k);
void subtract_product(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t m,
                      int64_t n, int64_t k);

// In place: the lower Cholesky factor L of the symmetric positive-definite n x n matrix a (a = L Lᵀ; only
// the lower triangle is read, the upper one is set to zero). Returns false when a is not positive definite.
bool cholesky_lower(double* a, int64_t n, int threads);
// In place: the inverse of the lower-triangular n x n matrix a (zero upper triangle).
void invert_lower(double* a, int64_t n, int threads);

// The upper-triangular U with Uᵀ U = h⁻¹ (n x n, symmetric positive definite), i.e. torch's
// cholesky(cholesky_inverse(cholesky(h)), upper=True), computed as the inverse of the "reverse" Cholesky
// factor V of h = V Vᵀ (V upper): one factorisation and one triangular inverse. Empty when h is not
// positive definite. Works in h's storage.
std::vector<double> inverse_cholesky_upper(std::vector<double> h, int64_t n, int threads);

// Σ over rows r of Δ_r H Δ_rᵀ: delta is rows x n (row-major), h is n x n (symmetric).
double hessian_weighted_error(const float* delta, int64_t rows, int64_t n, const double* h, int threads);

// Runs fn(tile) for tile = 0 .. count-1 on up to `threads` threads, each taking the next tile when it is
// free (list costly tiles first). Subnormal floats are flushed to zero inside (x86: FTZ and DAZ).
void parallel_tiles(int64_t count, int threads, const std::function<void(int64_t tile)>& fn);

}  // namespace qb
