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
// blocks: a KC x NR panel of packed B stays in L1 while the MR-row panels of the packed KC-deep slice of
// A stream past it from L2.
constexpr int64_t kTileRows = 8;    // MR
constexpr int64_t kTileCols = 32;   // NR
constexpr int64_t kDepthBlock = 256;  // KC
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

// C[rows, columns of column blocks first_block .. first_block+blocks-1], one column block after the other,
// each summed over k in KC slices (the first slice stores, later ones add). b_slice(col0, cols, p0, kc) gives
// the packed B panels of a column block's depth slice; it is called for a block's slices in order, so a
// source that produces B on demand fills a whole column block at its first slice. The run's rows of A are
// packed once, slice by slice as the first block reaches them (a_buffer: rows rounded up to kTileRows, x k).
template <typename SliceFn>
void multiply_run(const ConstMatrixRef& a, SliceFn& b_slice, int64_t b_rows, const MatrixRef& c, int64_t row0,
                  int64_t rows, int64_t first_block, int64_t blocks, std::vector<float>& a_buffer) {
    float acc[kTileRows][kTileCols];
    const int64_t padded_rows = round_up(rows, kTileRows);
    for (int64_t block = first_block; block < first_block + blocks; ++block) {
        const int64_t col0 = block * kColBlock, cols = std::min(kColBlock, b_rows - col0);
        for (int64_t p0 = 0; p0 < a.cols; p0 += kDepthBlock) {
            const int64_t kc = std::min(kDepthBlock, a.cols - p0);
            const float* a_slice = a_buffer.data() + p0 * padded_rows;
            if (block == first_block)
                pack_panels(a.data + row0 * a.stride + p0, a.stride, rows, kc, kTileRows, a_buffer.data() + p0 * padded_rows);
            const float* b_panels = b_slice(col0, cols, p0, kc);
            for (int64_t j = 0; j < cols; j += kTileCols) {
                for (int64_t i = 0; i < rows; i += kTileRows) {
                    multiply_panels(kc, a_slice + i * kc, b_panels + j * kc, acc);
                    store_tile(acc, std::min(kTileRows, rows - i), std::min(kTileCols, cols - j), p0 > 0,
                               c.data + (row0 + i) * c.stride + col0 + j, c.stride);
                }
            }
        }
    }
}

std::string shape_text(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

void check_shapes(int64_t a_rows, int64_t a_cols, int64_t b_rows, int64_t b_cols, const MatrixRef& c) {
    if (a_cols != b_cols || c.rows != a_rows || c.cols != b_rows)
        throw Error("matmul", "shapes do not match: " + shape_text(a_rows, a_cols) + " · (" + shape_text(b_rows, b_cols) +
                                  ")ᵀ -> " + shape_text(c.rows, c.cols));
}

// Splits C into blocks (row blocks x column blocks of kColBlock) and runs them on the threads; a worker's
// consecutive blocks in one row block form a run. make_slice_fn() gives each worker its b_slice function
// (see multiply_run), which lives for all the worker's runs.
template <typename MakeSliceFn>
void multiply_blocks(const ConstMatrixRef& a, int64_t b_rows, const MatrixRef& c, int threads, MakeSliceFn&& make_slice_fn) {
    if (c.rows == 0 || c.cols == 0) return;
    if (a.cols == 0) {
        for (int64_t i = 0; i < c.rows; ++i) std::fill_n(c.data + i * c.stride, c.cols, 0.0f);
        return;
    }
    // Blocks span all rows unless there are too few column blocks to keep every thread busy.
    const int64_t workers = threads <= 0 ? hardware_threads() : threads;
    const int64_t col_blocks = (b_rows + kColBlock - 1) / kColBlock;
    const int64_t row_splits = std::clamp<int64_t>((2 * workers + col_blocks - 1) / col_blocks, 1,
                                                   (a.rows + kTileRows - 1) / kTileRows);
    const int64_t block_rows = round_up((a.rows + row_splits - 1) / row_splits, kTileRows);
    const int64_t row_blocks = (a.rows + block_rows - 1) / block_rows;
    parallel_for(row_blocks * col_blocks, int(workers), [&](int64_t begin, int64_t end) {
        std::vector<float> a_buffer(size_t(a.cols * round_up(std::min(block_rows, a.rows), kTileRows)));
        auto b_slice = make_slice_fn();
        for (int64_t run = begin; run < end;) {
            const int64_t row_block = run / col_blocks, run_end = std::min(end, (row_block + 1) * col_blocks);
            const int64_t row0 = row_block * block_rows;
            multiply_run(a, b_slice, b_rows, c, row0, std::min(block_rows, a.rows - row0), run % col_blocks,
                         run_end - run, a_buffer);
            run = run_end;
        }
    });
}

// Floats of one column block's packed panels for all depth slices.
int64_t block_floats(int64_t rows, int64_t cols, int64_t col0) {
    return round_up(std::min(kColBlock, rows - col0), kTileCols) * cols;
}

// One worker's b_slice for a RowSource: at a column block's first slice, decodes its rows kTileCols at a
// time and packs every depth slice of them (PackedMatrix's layout of one block), then serves the slices.
class DecodedBlock {
public:
    DecodedBlock(const RowSource& b, ByteGauge* gauge)
        : b_(b), gauge_(gauge), panels_(size_t(round_up(std::min(kColBlock, b.rows), kTileCols) * b.cols)),
          rows_(size_t(std::min(kTileCols, b.rows) * b.cols)) {
        if (gauge_) gauge_->add(bytes());
    }
    DecodedBlock(const DecodedBlock&) = delete;  // returned by value through guaranteed copy elision
    ~DecodedBlock() {
        if (gauge_) gauge_->remove(bytes());
    }

    const float* operator()(int64_t col0, int64_t cols, int64_t p0, int64_t) {
        const int64_t width = round_up(cols, kTileCols);
        if (col0 != col0_) {
            for (int64_t j = 0; j < cols; j += kTileCols) {
                const int64_t count = std::min(kTileCols, cols - j);
                b_.decode(col0 + j, count, rows_.data());
                for (int64_t q0 = 0; q0 < b_.cols; q0 += kDepthBlock) {
                    const int64_t kc = std::min(kDepthBlock, b_.cols - q0);
                    pack_panels(rows_.data() + q0, b_.cols, count, kc, kTileCols, panels_.data() + width * q0 + j * kc);
                }
            }
            col0_ = col0;
        }
        return panels_.data() + width * p0;
    }

private:
    int64_t bytes() const { return int64_t((panels_.size() + rows_.size()) * sizeof(float)); }

    const RowSource& b_;
    ByteGauge* gauge_;
    std::vector<float> panels_, rows_;
    int64_t col0_ = -1;
};

}  // namespace

void ByteGauge::add(int64_t bytes) {
    const int64_t now = now_ += bytes;
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
}

void ByteGauge::remove(int64_t bytes) { now_ -= bytes; }

PackedMatrix::PackedMatrix(ConstMatrixRef b, int threads) : rows_(b.rows), cols_(b.cols) {
    const int64_t col_blocks = (rows_ + kColBlock - 1) / kColBlock;
    const int64_t slices = (cols_ + kDepthBlock - 1) / kDepthBlock;
    if (col_blocks > 0) panels_.resize(size_t((col_blocks - 1) * kColBlock * cols_ + block_floats(rows_, cols_, (col_blocks - 1) * kColBlock)));
    parallel_for(col_blocks * slices, threads, [&](int64_t begin, int64_t end) {
        for (int64_t item = begin; item < end; ++item) {
            const int64_t col0 = (item / slices) * kColBlock, p0 = (item % slices) * kDepthBlock;
            pack_panels(b.data + col0 * b.stride + p0, b.stride, std::min(kColBlock, rows_ - col0),
                        std::min(kDepthBlock, cols_ - p0), kTileCols, panels_.data() + offset(item / slices, item % slices));
        }
    });
}

// Column blocks follow each other; inside one, its depth slices; inside a slice, its panels.
int64_t PackedMatrix::offset(int64_t column_block, int64_t depth_slice) const {
    const int64_t col0 = column_block * kColBlock;
    return col0 * cols_ + round_up(std::min(kColBlock, rows_ - col0), kTileCols) * depth_slice * kDepthBlock;
}

const float* PackedMatrix::panels(int64_t column_block, int64_t depth_slice) const {
    return panels_.data() + offset(column_block, depth_slice);
}

void PackedMatrix::unpack_row(int64_t row, float* dst) const {
    const int64_t panel = (row % kColBlock) / kTileCols, lane = row % kTileCols;
    for (int64_t p0 = 0; p0 < cols_; p0 += kDepthBlock) {
        const int64_t kc = std::min(kDepthBlock, cols_ - p0);
        const float* src = panels(row / kColBlock, p0 / kDepthBlock) + panel * kc * kTileCols + lane;
        for (int64_t p = 0; p < kc; ++p) dst[p0 + p] = src[p * kTileCols];
    }
}

std::vector<float> PackedMatrix::unpack() const {
    std::vector<float> out(size_t(rows_ * cols_));
    for (int64_t r = 0; r < rows_; ++r) unpack_row(r, out.data() + r * cols_);
    return out;
}

void matmul_nt(ConstMatrixRef a, ConstMatrixRef b, MatrixRef c, int threads) {
    check_shapes(a.rows, a.cols, b.rows, b.cols, c);
    // Each worker packs the B slices it uses into its own buffer.
    const size_t buffer_floats = size_t(std::min(kDepthBlock, a.cols) * round_up(std::min(kColBlock, b.rows), kTileCols));
    multiply_blocks(a, b.rows, c, threads, [&] {
        return [&b, buffer = std::vector<float>(buffer_floats)](int64_t col0, int64_t cols, int64_t p0, int64_t kc) mutable {
            pack_panels(b.data + col0 * b.stride + p0, b.stride, cols, kc, kTileCols, buffer.data());
            return static_cast<const float*>(buffer.data());
        };
    });
}

void matmul_nt(ConstMatrixRef a, const PackedMatrix& b, MatrixRef c, int threads) {
    check_shapes(a.rows, a.cols, b.rows(), b.cols(), c);
    multiply_blocks(a, b.rows(), c, threads, [&b] {
        return [&b](int64_t col0, int64_t, int64_t p0, int64_t) { return b.panels(col0 / kColBlock, p0 / kDepthBlock); };
    });
}

void matmul_nt(ConstMatrixRef a, const RowSource& b, MatrixRef c, int threads, ByteGauge* gauge) {
    check_shapes(a.rows, a.cols, b.rows, b.cols, c);
    multiply_blocks(a, b.rows, c, threads, [&] { return DecodedBlock(b, gauge); });
}

}  // namespace qb
