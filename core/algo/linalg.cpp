#include "core/algo/linalg.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/util/parallel.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace qb {
namespace {

// Subnormal operands cost x86 cores a microcode assist each (about 100x slower). Factors of Hessians
// whose correlations decay along the diagonal are full of them, and at this precision they are zeros.
class FlushSubnormals {
public:
#if defined(__SSE__)
    FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ | DAZ
    ~FlushSubnormals() { _mm_setcsr(saved_); }

private:
    unsigned saved_;
#endif
};

constexpr int kTileRows = 4;
constexpr int64_t kPanel = 128;  // block size of the factorisation and the inverse

template <typename T>
constexpr int64_t kTileWidth = 128 / int64_t(sizeof(T));  // two cache lines of C per row

// c[r][j] -= Σ_t a[r][t] b[t][j] for Rows rows and `width` (Full: kTileWidth) columns; the sum over t
// is accumulated first, in t order, the same way for every row count (a column's arithmetic depends only
// on whether it lies in a full strip, which n alone decides).
template <typename T, int Rows, bool Full>
void tile(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t k, int64_t width) {
    constexpr int64_t kWidth = kTileWidth<T>;
    const int64_t w = Full ? kWidth : width;
    T acc[Rows][kWidth] = {};
    for (int64_t t = 0; t < k; ++t) {
        const T* bt = b + t * ldb;
        for (int r = 0; r < Rows; ++r) {
            const T ar = a[r * lda + t];
            for (int64_t j = 0; j < w; ++j) acc[r][j] = std::fma(ar, bt[j], acc[r][j]);
        }
    }
    for (int r = 0; r < Rows; ++r)
        for (int64_t j = 0; j < w; ++j) c[r * ldc + j] -= acc[r][j];
}

// The full-width double tile in explicit vectors (multiply and add, no FMA): for doubles GCC vectorizes
// tile() across its rows instead of its columns, with permutes at every step (5x slower than this).
typedef double Double4 __attribute__((vector_size(32)));
constexpr int kDoubleVectors = int(kTileWidth<double>) / 4;

template <int Rows>
void tile_double_vectors(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb,
                         int64_t k) {
    Double4 acc[Rows][kDoubleVectors] = {};
    for (int64_t t = 0; t < k; ++t) {
        Double4 bt[kDoubleVectors];
        std::memcpy(bt, b + t * ldb, sizeof bt);
        for (int r = 0; r < Rows; ++r) {
            const Double4 ar = a[r * lda + t] + Double4{};
            for (int v = 0; v < kDoubleVectors; ++v) acc[r][v] += ar * bt[v];
        }
    }
    for (int r = 0; r < Rows; ++r) {
        Double4 cr[kDoubleVectors];
        std::memcpy(cr, c + r * ldc, sizeof cr);
        for (int v = 0; v < kDoubleVectors; ++v) cr[v] -= acc[r][v];
        std::memcpy(c + r * ldc, cr, sizeof cr);
    }
}

template <typename T, int Rows>
void tile_any_width(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t k, int64_t width) {
    if (width != kTileWidth<T>)
        tile<T, Rows, false>(c, ldc, a, lda, b, ldb, k, width);
    else if constexpr (std::is_same_v<T, double>)
        tile_double_vectors<Rows>(c, ldc, a, lda, b, ldb, k);
    else
        tile<T, Rows, true>(c, ldc, a, lda, b, ldb, k, width);
}

// Depth in slices of kPanel; per slice, column strips outside and row tiles inside. The slice of a and
// each slice x width strip of b are copied to contiguous buffers (rows a power of two apart would share
// cache sets), so the strip stays in L1 while every row tile streams past it.
template <typename T>
void subtract_product_impl(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t m, int64_t n,
                           int64_t k) {
    constexpr int64_t kWidth = kTileWidth<T>;
    thread_local std::vector<T> a_slice;
    T strip[kPanel * kWidth];
    for (int64_t t0 = 0; t0 < k; t0 += kPanel) {
        const int64_t depth = std::min(kPanel, k - t0);
        a_slice.resize(size_t(m * depth));
        for (int64_t i = 0; i < m; ++i) std::copy_n(a + i * lda + t0, depth, a_slice.data() + i * depth);
        for (int64_t j = 0; j < n; j += kWidth) {
            const int64_t width = std::min(kWidth, n - j);
            for (int64_t t = 0; t < depth; ++t) std::copy_n(b + (t0 + t) * ldb + j, width, strip + t * kWidth);
            int64_t i = 0;
            for (; i + kTileRows <= m; i += kTileRows)
                tile_any_width<T, kTileRows>(c + i * ldc + j, ldc, a_slice.data() + i * depth, depth, strip, kWidth,
                                             depth, width);
            for (; i < m; ++i)
                tile_any_width<T, 1>(c + i * ldc + j, ldc, a_slice.data() + i * depth, depth, strip, kWidth, depth,
                                     width);
        }
    }
}

// Unblocked Cholesky of the b x b diagonal block at a (row stride n); false if not positive definite.
bool factor_diagonal_block(double* a, int64_t n, int64_t b) {
    for (int64_t j = 0; j < b; ++j) {
        double* row_j = a + j * n;
        double d = row_j[j];
        for (int64_t t = 0; t < j; ++t) d -= row_j[t] * row_j[t];
        if (!(d > 0) || !std::isfinite(d)) return false;
        const double l = std::sqrt(d);
        row_j[j] = l;
        for (int64_t i = j + 1; i < b; ++i) {
            double* row_i = a + i * n;
            double s = row_i[j];
            for (int64_t t = 0; t < j; ++t) s -= row_i[t] * row_j[t];
            row_i[j] = s / l;
        }
    }
    return true;
}

// Rows below the diagonal block: x = row · L_kk⁻ᵀ by forward substitution.
void solve_panel_row(double* row, const double* diagonal, int64_t n, int64_t b) {
    for (int64_t j = 0; j < b; ++j) {
        const double* l = diagonal + j * n;
        double s = row[j];
        for (int64_t t = 0; t < j; ++t) s -= row[t] * l[t];
        row[j] = s / l[j];
    }
}

void zero_upper_triangle(double* a, int64_t n) {
    for (int64_t i = 0; i < n; ++i) std::fill(a + i * n + i + 1, a + (i + 1) * n, 0.0);
}

// Inverse of the b x b lower-triangular block at a (row stride n) into x (b x b, dense).
void invert_diagonal_block(const double* a, int64_t n, int64_t b, std::vector<double>& x) {
    x.assign(size_t(b * b), 0.0);
    for (int64_t j = 0; j < b; ++j) {
        x[size_t(j * b + j)] = 1.0 / a[j * n + j];
        for (int64_t i = j + 1; i < b; ++i) {
            double s = 0;
            for (int64_t m = j; m < i; ++m) s += a[i * n + m] * x[size_t(m * b + j)];
            x[size_t(i * b + j)] = -s / a[i * n + i];
        }
    }
}

}  // namespace

void subtract_product(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                      int64_t n, int64_t k) {
    subtract_product_impl(c, ldc, a, lda, b, ldb, m, n, k);
}

void subtract_product(double* c, int64_t ldc, const double* a, int64_t lda, const double* b, int64_t ldb, int64_t m,
                      int64_t n, int64_t k) {
    subtract_product_impl(c, ldc, a, lda, b, ldb, m, n, k);
}

void parallel_tiles(int64_t count, int threads, const std::function<void(int64_t)>& fn) {
    std::atomic<int64_t> next{0};
    const int workers = int(std::min<int64_t>(count, threads <= 0 ? hardware_threads() : threads));
    parallel_for(workers, workers, [&](int64_t, int64_t) {
        const FlushSubnormals flush;
        for (int64_t t; (t = next.fetch_add(1)) < count;) fn(t);
    });
}

// Right-looking blocked factorisation: factor a diagonal block, solve the panel below it, update the
// trailing lower triangle with the panel's outer product (the O(n³) part, in parallel row tiles).
bool cholesky_lower(double* a, int64_t n, int threads) {
    std::vector<double> panel_t;
    for (int64_t k0 = 0; k0 < n; k0 += kPanel) {
        const int64_t b = std::min(kPanel, n - k0), k1 = k0 + b, below = n - k1;
        double* diagonal = a + k0 * n + k0;
        if (!factor_diagonal_block(diagonal, n, b)) return false;
        if (below == 0) break;
        const int64_t tiles = (below + kPanel - 1) / kPanel;
        parallel_tiles(tiles, threads, [&](int64_t t) {
            for (int64_t i = k1 + t * kPanel; i < std::min(n, k1 + (t + 1) * kPanel); ++i)
                solve_panel_row(a + i * n + k0, diagonal, n, b);
        });
        panel_t.assign(size_t(b * below), 0.0);
        for (int64_t i = 0; i < below; ++i)
            for (int64_t t = 0; t < b; ++t) panel_t[size_t(t * below + i)] = a[(k1 + i) * n + k0 + t];
        parallel_tiles(tiles, threads, [&](int64_t t) {
            const int64_t tile = tiles - 1 - t;  // the longest rows first
            const int64_t i0 = k1 + tile * kPanel, i1 = std::min(n, i0 + kPanel);
            subtract_product(a + i0 * n + k1, n, a + i0 * n + k0, n, panel_t.data(), below, i1 - i0, i1 - k1, b);
        });
    }
    zero_upper_triangle(a, n);
    return true;
}

// Block row k of X = L⁻¹: X_kk = L_kk⁻¹ and X[k, :k] = -X_kk (L[k, :k] X[:k, :k]), the rows above
// being inverted already.
void invert_lower(double* a, int64_t n, int threads) {
    std::vector<double> x_kk, product, neg_x_kk;
    for (int64_t k0 = 0; k0 < n; k0 += kPanel) {
        const int64_t b = std::min(kPanel, n - k0);
        invert_diagonal_block(a + k0 * n + k0, n, b, x_kk);
        const int64_t strips = (k0 + kPanel - 1) / kPanel;
        product.assign(size_t(b * k0), 0.0);  // -L[k, :k] X[:k, :k]
        parallel_tiles(strips, threads, [&](int64_t s) {
            const int64_t j0 = s * kPanel, width = std::min(kPanel, k0 - j0);  // X is lower: rows from j0 on
            subtract_product(product.data() + j0, k0, a + k0 * n + j0, n, a + j0 * n + j0, n, b, width, k0 - j0);
        });
        neg_x_kk.resize(x_kk.size());
        std::transform(x_kk.begin(), x_kk.end(), neg_x_kk.begin(), [](double v) { return -v; });
        for (int64_t i = 0; i < b; ++i) std::fill(a + (k0 + i) * n, a + (k0 + i) * n + k0, 0.0);
        parallel_tiles(strips, threads, [&](int64_t s) {
            const int64_t j0 = s * kPanel, width = std::min(kPanel, k0 - j0);
            subtract_product(a + k0 * n + j0, n, neg_x_kk.data(), b, product.data() + j0, k0, b, width, b);
        });
        for (int64_t i = 0; i < b; ++i) std::copy_n(x_kk.data() + i * b, b, a + (k0 + i) * n + k0);
    }
}

std::vector<double> inverse_cholesky_upper(std::vector<double> h, int64_t n, int threads) {
    // With the reversal P (P_ij = [i + j = n - 1]): P h P = L Lᵀ gives h = V Vᵀ with V = P L P upper,
    // so h⁻¹ = V⁻ᵀ V⁻¹ and U = V⁻¹ = P L⁻¹ P. (P X P)_ij = X_{n-1-i, n-1-j} is the flat array reversed.
    std::reverse(h.begin(), h.end());
    if (!cholesky_lower(h.data(), n, threads)) return {};
    invert_lower(h.data(), n, threads);
    std::reverse(h.begin(), h.end());
    return h;
}

double hessian_weighted_error(const float* delta, int64_t rows, int64_t n, const double* h, int threads) {
    constexpr int64_t kChunk = 128;
    const int64_t chunks = (rows + kChunk - 1) / kChunk;
    std::vector<double> partial(size_t(chunks), 0.0);
    parallel_tiles(chunks, threads, [&](int64_t chunk) {
        const int64_t r0 = chunk * kChunk, m = std::min(kChunk, rows - r0);
        std::vector<double> d(delta + r0 * n, delta + (r0 + m) * n);
        std::vector<double> product(d.size(), 0.0);  // -Δ H
        subtract_product(product.data(), n, d.data(), n, h, n, m, n, n);
        double sum = 0;
        for (size_t i = 0; i < d.size(); ++i) sum -= product[i] * d[i];
        partial[size_t(chunk)] = sum;
    });
    double total = 0;
    for (double p : partial) total += p;
    return total;
}

}  // namespace qb
