#include "core/infer/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/util/parallel.h"

// This file alone contracts a*b+c into FMA (the project builds with -ffp-contract=off so reference code
// rounds exactly as written): the product's rounding is an accuracy gain here and the FMA doubles
// throughput. 512-bit vectors are preferred because the micro-kernel's accumulator tile is sized for them;
// on CPUs without AVX-512 the pragma is a no-op and GCC uses what the target has.
#pragma GCC optimize("fp-contract=fast")
#pragma GCC target("prefer-vector-width=512")

namespace qb {
namespace {

// Register tile of the micro-kernel (MR rows of A x NR columns of C: 16 zmm accumulators) and the cache
// blocks: a KC x NR slice of packed B stays in L1 while MR-row slices of the packed MC x KC block of A
// stream from L2.
constexpr int64_t kTileRows = 8;    // MR
constexpr int64_t kTileCols = 32;   // NR
constexpr int64_t kDepthBlock = 256;  // KC
constexpr int64_t kRowBlock = 128;    // MC
constexpr int64_t kColBlock = 512;    // NC

int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// acc = Σ_p a_panel[p] ⊗ b_panel[p] over a kTileRows-interleaved A panel and a kTileCols-interleaved B panel.
// Plain loops with constant bounds: GCC unrolls the rows, vectorises the columns and keeps acc in registers.
void multiply_panels(int64_t depth, const float* __restrict a_panel, const float* __restrict b_panel,
                     float (&acc)[kTileRows][kTileCols]) {
    for (int64_t i = 0; i < kTileRows; ++i)
        for (int64_t j = 0; j < kTileCols; ++j) acc[i][j] = 0.0f;
    for (int64_t p = 0; p < depth; ++p) {
        const float* a = a_panel + p * kTileRows;
        const float* b = b_panel + p * kTileCols;
        for (int64_t i = 0; i < kTileRows; ++i)
            for (int64_t j = 0; j < kTileCols; ++j) acc[i][j] += a[i] * b[j];
    }
}

// Copies `count` rows x `depth` columns of a row-major matrix into panels of `width` rows, stored
// column-interleaved (element (r, p) of a panel at p * width + r); missing rows of the last panel are zero.
void pack_panels(const float* src, int64_t stride, int64_t count, int64_t depth, int64_t width, float* dst) {
    for (int64_t r0 = 0; r0 < count; r0 += width, dst += depth * width) {
        for (int64_t r = 0; r < width; ++r) {
            if (r0 + r < count) {
                const float* row = src + (r0 + r) * stride;
                for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = row[p];
            } else {
                for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = 0.0f;
            }
        }
    }
}

void store_tile(const float (&acc)[kTileRows][kTileCols], int64_t rows, int64_t cols, bool accumulate, float* c,
                int64_t ldc) {
    for (int64_t i = 0; i < rows; ++i) {
        float* out = c + i * ldc;
        if (accumulate)
            for (int64_t j = 0; j < cols; ++j) out[j] += acc[i][j];
        else
            for (int64_t j = 0; j < cols; ++j) out[j] = acc[i][j];
    }
}

struct PackBuffers {
    std::vector<float> a, b;
};

// One block of C (any row count, at most NC columns), summed over k in KC slices (the first slice
// stores, later ones add). Each packed B slice serves every MC-row sub-block of the block.
void multiply_block(const ConstMatrixRef& a, const ConstMatrixRef& b, const MatrixRef& c, int64_t row0, int64_t rows,
                    int64_t col0, int64_t cols, PackBuffers& buffers) {
    const int64_t depth = a.cols;
    float acc[kTileRows][kTileCols];
    for (int64_t p0 = 0; p0 < depth; p0 += kDepthBlock) {
        const int64_t kc = std::min(kDepthBlock, depth - p0);
        pack_panels(b.data + col0 * b.stride + p0, b.stride, cols, kc, kTileCols, buffers.b.data());
        for (int64_t i0 = row0; i0 < row0 + rows; i0 += kRowBlock) {
            const int64_t mc = std::min(kRowBlock, row0 + rows - i0);
            pack_panels(a.data + i0 * a.stride + p0, a.stride, mc, kc, kTileRows, buffers.a.data());
            for (int64_t j = 0; j < cols; j += kTileCols) {
                for (int64_t i = 0; i < mc; i += kTileRows) {
                    multiply_panels(kc, buffers.a.data() + i * kc, buffers.b.data() + j * kc, acc);
                    store_tile(acc, std::min(kTileRows, mc - i), std::min(kTileCols, cols - j), p0 > 0,
                               c.data + (i0 + i) * c.stride + col0 + j, c.stride);
                }
            }
        }
    }
}

std::string shape_text(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

}  // namespace

void matmul_nt(ConstMatrixRef a, ConstMatrixRef b, MatrixRef c, int threads) {
    if (a.cols != b.cols || c.rows != a.rows || c.cols != b.rows)
        throw Error("matmul", "shapes do not match: " + shape_text(a.rows, a.cols) + " · (" +
                                  shape_text(b.rows, b.cols) + ")ᵀ -> " + shape_text(c.rows, c.cols));
    if (c.rows == 0 || c.cols == 0) return;
    if (a.cols == 0) {
        for (int64_t i = 0; i < c.rows; ++i) std::fill_n(c.data + i * c.stride, c.cols, 0.0f);
        return;
    }
    // Blocks span all rows unless there are too few column blocks to keep every thread busy.
    const int64_t workers = threads <= 0 ? hardware_threads() : threads;
    const int64_t col_blocks = (b.rows + kColBlock - 1) / kColBlock;
    const int64_t row_splits = std::clamp<int64_t>((2 * workers + col_blocks - 1) / col_blocks, 1,
                                                   (a.rows + kTileRows - 1) / kTileRows);
    const int64_t block_rows = round_up((a.rows + row_splits - 1) / row_splits, kTileRows);
    const int64_t row_blocks = (a.rows + block_rows - 1) / block_rows;
    const int64_t kc = std::min(kDepthBlock, a.cols);
    parallel_for(row_blocks * col_blocks, int(workers), [&](int64_t begin, int64_t end) {
        // Sized to this product, not the maximal block, so small products stay cheap to set up.
        PackBuffers buffers{std::vector<float>(size_t(kc * round_up(std::min(kRowBlock, a.rows), kTileRows))),
                            std::vector<float>(size_t(kc * round_up(std::min(kColBlock, b.rows), kTileCols)))};
        for (int64_t block = begin; block < end; ++block) {
            const int64_t row0 = (block % row_blocks) * block_rows, col0 = (block / row_blocks) * kColBlock;
            multiply_block(a, b, c, row0, std::min(block_rows, a.rows - row0), col0, std::min(kColBlock, b.rows - col0),
                           buffers);
        }
    });
}

}  // namespace qb
